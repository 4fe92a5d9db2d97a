import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../context.js';
import { until, withDb } from '../dataset.js';
import { randomInt } from '../load.js';
import { fixed, thousands, type Row } from '../table.js';
import { patchRequest } from './hot-paths.js';

/** The probe's steady rate: well under what the service sustains, so latency shows waiting, not saturation. */
const RATE = 1_000;
/** Share of the probe's requests for users inside the bulk add. */
const INSIDE_SHARE = 0.1;
const QUIET_SECONDS = 8;
/** SPEC §8: during a campaign, writes of users outside it keep p99 ≤ 2 × the quiet p99, none over this. */
const MAX_MS = 500;

interface Sample {
  /** When the request was sent (ms since the epoch). */
  sentAt: number;
  ms: number;
  ok: boolean;
}

/** PATCH requests at a fixed rate for users `pick` chooses, each response's latency kept with its send time. */
function probe(context: BenchContext, rate: number, connections: number, pick: () => number) {
  const samples: Sample[] = [];
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const instance = autocannon(
    {
      url: context.api.url,
      connections,
      overallRate: rate,
      duration: 3_600,
      headers: { 'content-type': 'application/json', ...context.auth },
      requests: [{ setupRequest: (request) => ({ ...request, ...patchRequest(context, pick()) }) }],
    },
    () => finished(),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    samples.push({ sentAt: Date.now() - responseTime, ms: responseTime, ok: statusCode === 200 });
  });
  return {
    samples,
    stop: async () => {
      instance.stop();
      await done;
    },
  };
}

interface Latency {
  requests: number;
  p99: number;
  max: number;
  over: number;
  failed: number;
}

function latencyOf(samples: Sample[], from: number, to: number): Latency {
  const window = samples.filter((sample) => sample.sentAt >= from && sample.sentAt <= to);
  const sorted = window.map((sample) => sample.ms).sort((a, b) => a - b);
  return {
    requests: window.length,
    p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
    max: sorted.at(-1) ?? 0,
    over: sorted.filter((ms) => ms > MAX_MS).length,
    failed: window.filter((sample) => !sample.ok).length,
  };
}

/**
 * Runs the probe (users outside the campaign's first `insideUsers` ids, and a tenth inside
 * them) around `campaign`, and measures the requests sent while it ran.
 */
async function around(context: BenchContext, insideUsers: number, campaign: () => Promise<void>) {
  const outsideUsers = context.size.users - insideUsers;
  const outside = probe(context, RATE * (1 - INSIDE_SHARE), 48, () => insideUsers + randomInt(outsideUsers));
  const inside = probe(context, RATE * INSIDE_SHARE, 16, () => randomInt(insideUsers));
  try {
    await sleep(1_000);
    const from = Date.now();
    await campaign();
    const to = Date.now();
    await sleep(500);
    return { seconds: (to - from) / 1000, outside: latencyOf(outside.samples, from, to), inside: latencyOf(inside.samples, from, to) };
  } finally {
    await Promise.all([outside.stop(), inside.stop()]);
  }
}

const api = async (context: BenchContext, path: string, method: string, body?: object) => {
  const response = await fetch(`${context.api.url}${path}`, {
    method,
    headers: { ...context.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  return response;
};

const describeLatency = (latency: Latency) =>
  `p99 ${latency.p99} ms, max ${latency.max} ms, ${latency.over} over ${MAX_MS} ms` +
  (latency.failed > 0 ? `, ${latency.failed} failed` : '') +
  ` (${thousands(latency.requests)} requests)`;

/**
 * PATCH at a fixed 1 000 req/s while an analyst's campaigns run one after another (API and
 * worker as separate processes): a bulk add of 100 000 ids, a 50 % rollout over every user,
 * and the purge of a segment every user is in. Users outside the bulk add, and everybody
 * during the rollout and the purge (neither holds a user for longer than a chunk), keep p99
 * within 2 × the quiet p99 of the same run and no request over 500 ms; users inside the bulk
 * add may wait for it and are reported apart.
 */
export async function duringCampaigns(context: BenchContext): Promise<Row[]> {
  const worker = await context.worker();
  const bulkUsers = Math.min(100_000, context.size.users / 10);
  const quiet = await around(context, bulkUsers, () => sleep(QUIET_SECONDS * 1000));
  const quietP99 = Math.max(quiet.outside.p99, quiet.inside.p99);

  await api(context, '/segments', 'POST', { slug: 'BENCH_CAMPAIGN' });
  const bulk = await around(context, bulkUsers, async () => {
    const ids = Array.from({ length: bulkUsers }, (_, index) => index + 1);
    await api(context, '/segments/BENCH_CAMPAIGN/members', 'POST', { add: ids });
  });

  const rollout = await around(context, bulkUsers, async () => {
    await api(context, '/segments', 'POST', { slug: 'BENCH_CAMPAIGN_ROLLOUT', auto_percent: 50 });
    await until(
      async () =>
        ((await (await api(context, '/segments/BENCH_CAMPAIGN_ROLLOUT', 'GET')).json()) as { rollout: { state: string } }).rollout.state ===
        'done',
      600,
    );
  });

  // A segment every user is in, filled by SQL, then deleted through the API: the purge removes every membership with history.
  const purgedId = await withDb(context.databaseUrl, async (db) => {
    const id = (await db.query(`INSERT INTO segments (slug) VALUES ('BENCH_CAMPAIGN_PURGE') RETURNING id`)).rows[0].id as number;
    await db.query(`INSERT INTO memberships (user_id, segment_id, source) SELECT id, $1, 'manual' FROM users`, [id]);
    await db.query('ANALYZE memberships');
    return id;
  });
  const purge = await around(context, bulkUsers, async () => {
    await api(context, '/segments/BENCH_CAMPAIGN_PURGE', 'DELETE');
    await withDb(context.databaseUrl, (db) =>
      until(async () => (await db.query('SELECT purged_at FROM segments WHERE id = $1', [purgedId])).rows[0].purged_at !== null, 600),
    );
  });
  await worker.stop();

  const everybody = (phase: { outside: Latency; inside: Latency }): Latency => ({
    requests: phase.outside.requests + phase.inside.requests,
    p99: Math.max(phase.outside.p99, phase.inside.p99),
    max: Math.max(phase.outside.max, phase.inside.max),
    over: phase.outside.over + phase.inside.over,
    failed: phase.outside.failed + phase.inside.failed,
  });
  const row = (path: string, latency: Latency, extra = ''): Row => ({
    path,
    figure: describeLatency(latency) + extra,
    baseline: `quiet p99 ${quietP99} ms`,
    ratio: `${fixed(latency.p99 / quietP99)}×`,
    target: `≤ 2×, none over ${MAX_MS} ms`,
    pass: latency.failed === 0 && latency.p99 <= 2 * quietP99 && latency.over === 0,
  });
  return [
    {
      path: `PATCH at ${thousands(RATE)} req/s, quiet (${QUIET_SECONDS} s)`,
      figure: describeLatency(everybody(quiet)),
      baseline: '—',
      ratio: '—',
      target: 'reported',
      pass: null,
    },
    row(
      `… during POST /segments/{slug}/members, ${thousands(bulkUsers)} ids (${fixed(bulk.seconds)} s): users outside it`,
      bulk.outside,
      `; users inside it: ${describeLatency(bulk.inside)}`,
    ),
    row(`… during a 50 % rollout over ${thousands(context.size.users)} users (${fixed(rollout.seconds)} s): everybody`, everybody(rollout)),
    row(`… during the purge of a ${thousands(context.size.users)}-member segment (${fixed(purge.seconds)} s): everybody`, everybody(purge)),
  ];
}
