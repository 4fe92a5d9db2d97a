import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../context.js';
import { load, randomInt } from '../load.js';
import { rssOf } from '../processes.js';
import { since } from '../psql.js';
import { fixed, thousands, type Row } from '../table.js';

const call = async (context: BenchContext, path: string, init: RequestInit = {}) => {
  const response = await fetch(`${context.api.url}${path}`, { ...init, headers: { ...context.auth, ...(init.headers as object) } });
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${response.status}: ${await response.text()}`);
  return response.json() as Promise<Record<string, unknown>>;
};
const json = (body: object): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** 100 000 user ids added to a segment by one POST /segments/{slug}/members, with history. */
export async function bulkMembers(context: BenchContext): Promise<Row[]> {
  const count = Math.min(100_000, context.size.users);
  await call(context, '/segments', json({ slug: 'BENCH_MEMBERS' }));
  const ids = Array.from({ length: count }, (_, index) => index + 1);
  const started = process.hrtime.bigint();
  const result = await call(context, '/segments/BENCH_MEMBERS/members', json({ add: ids }));
  const seconds = since(started);
  return [
    {
      path: `POST /segments/{slug}/members with ${thousands(count)} ids`,
      figure: `${fixed(seconds)} s (${thousands(Number(result.added))} added, each with its history entry)`,
      baseline: '—',
      ratio: '—',
      target: '≤ 2 s',
      pass: result.added === count && seconds <= 2,
    },
  ];
}

/** A CSV of 1 000 000 ids (100 000 with --quick) imported into a segment: upload, check, staging and application, with API memory sampled throughout. */
export async function csvImport(context: BenchContext): Promise<Row[]> {
  const count = context.quick ? 100_000 : 1_000_000;
  const worker = await context.worker();
  await call(context, '/segments', json({ slug: 'BENCH_IMPORT' }));
  const csv = `user_id\n${Array.from({ length: count }, (_, index) => index + 1).join('\n')}\n`;
  const pid = context.api.process.pid!;
  const before = await rssOf(pid);
  let peak = before;
  const sampler = setInterval(() => void rssOf(pid).then((rss) => (peak = Math.max(peak, rss))), 50);
  const started = process.hrtime.bigint();
  const created = await call(context, '/segments/BENCH_IMPORT/imports?mode=add', {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: csv,
  });
  const uploaded = since(started);
  let state = created;
  while (state.state === 'running') {
    await sleep(200);
    state = await call(context, `/imports/${created.id}`);
  }
  const seconds = since(started);
  clearInterval(sampler);
  await worker.stop();
  const growthMb = (peak - before) / 1024 / 1024;
  return [
    {
      path: `CSV import of ${thousands(count)} ids`,
      figure: `${fixed(seconds)} s (upload and check ${fixed(uploaded)} s, ${thousands(Number(state.added))} added), API RSS +${fixed(growthMb, 1)} MB for a ${fixed(csv.length / 1024 / 1024, 1)} MB file`,
      baseline: '—',
      ratio: '—',
      target: '≤ 30 s, memory flat',
      pass: state.state === 'done' && state.added === count && seconds <= 30 && growthMb <= 64,
    },
  ];
}

/** POST /users/segments/lookup with 100 random users per call, beside single GETs of the same run. */
export async function lookup(context: BenchContext): Promise<Row[]> {
  const single = await load({
    url: context.api.url,
    seconds: context.seconds,
    connections: context.connections,
    headers: context.auth,
    next: () => ({ path: `/users/${randomInt(context.size.users)}/segments` }),
  });
  const batched = await load({
    url: context.api.url,
    seconds: context.seconds,
    connections: context.connections,
    headers: context.auth,
    next: () => ({
      method: 'POST',
      path: '/users/segments/lookup',
      body: JSON.stringify({ user_ids: Array.from({ length: 100 }, () => randomInt(context.size.users)) }),
    }),
  });
  const usersPerSecond = batched.rps * 100;
  const ratio = usersPerSecond / single.rps;
  const clean = batched.errors === 0 && batched.non2xx === 0;
  return [
    {
      path: 'POST /users/segments/lookup, 100 users per call',
      figure: `${thousands(usersPerSecond)} users/s (${thousands(batched.rps)} calls/s, p99 ${batched.p99} ms)${clean ? '' : `, ${batched.non2xx} non-2xx`}`,
      baseline: `${thousands(single.rps)} users/s single GETs`,
      ratio: `${fixed(ratio)}×`,
      target: '≥ 5×',
      pass: clean && ratio >= 5,
    },
  ];
}
