import type { BenchContext } from '../context.js';
import { segmentSlug, withDb } from '../dataset.js';
import { load, randomInt, type LoadOptions, type LoadResult } from '../load.js';
import { pgbenchPatch } from '../pgbench.js';
import { startBare, type Service } from '../processes.js';
import { fixed, thousands, type Row } from '../table.js';

const BARE_PORT = 3931;

const warmUpSeconds = (context: BenchContext) => (context.quick ? 1 : 3);

/** Loads `options` once unmeasured (JIT, pools and caches warm up), then measures a second run. */
async function measured(context: BenchContext, options: Omit<LoadOptions, 'seconds' | 'connections'>): Promise<LoadResult> {
  const settings = { headers: context.auth, ...options, connections: context.connections };
  await load({ ...settings, seconds: warmUpSeconds(context) });
  return load({ ...settings, seconds: context.seconds });
}

/** Rounds of a read path against the bare server; each of the two is loaded `context.seconds` in all. */
const BARE_ROUNDS = 4;

/**
 * A read path beside its baseline, a bare Node http server (its own process, a fixed 200-byte
 * JSON) under the same load (requests, headers and all). After a warm-up of each, rounds alternate
 * between them in the order bare, API, API, bare, …, so both are measured at the same moments of
 * a shared host whose speed drifts (the bare server alone moved by a third between runs minutes
 * apart): rates are all requests over all rounds' time, p50 and p99 the highest of any round.
 */
async function againstBare(
  context: BenchContext,
  path: string,
  options: Omit<LoadOptions, 'seconds' | 'connections'>,
  target: { ratio: number; p99: number },
): Promise<Row> {
  const server = await startBare(BARE_PORT);
  try {
    const api = { headers: context.auth, ...options, connections: context.connections };
    const bare = { ...api, url: server.url };
    await load({ ...bare, seconds: warmUpSeconds(context) });
    await load({ ...api, seconds: warmUpSeconds(context) });
    const rounds = { api: [] as LoadResult[], bare: [] as LoadResult[] };
    const seconds = context.seconds / BARE_ROUNDS;
    for (let round = 0; round < BARE_ROUNDS; round++) {
      for (const side of round % 2 === 0 ? (['bare', 'api'] as const) : (['api', 'bare'] as const)) {
        rounds[side].push(await load({ ...(side === 'api' ? api : bare), seconds }));
      }
    }
    return hotRow(path, combined(rounds.api), combined(rounds.bare), target);
  } finally {
    await server.stop();
  }
}

function combined(rounds: LoadResult[]): LoadResult {
  const total = (pick: (result: LoadResult) => number) => rounds.reduce((sum, result) => sum + pick(result), 0);
  const requests = total((result) => result.requests);
  const seconds = total((result) => result.seconds);
  return {
    rps: requests / seconds,
    p50: Math.max(...rounds.map((result) => result.p50)),
    p99: Math.max(...rounds.map((result) => result.p99)),
    requests,
    seconds,
    errors: total((result) => result.errors),
    non2xx: total((result) => result.non2xx),
  };
}

function hotRow(path: string, result: LoadResult, bare: LoadResult, target: { ratio: number; p99: number }): Row {
  const ratio = result.rps / bare.rps;
  const clean = result.errors === 0 && result.non2xx === 0 && bare.errors === 0 && bare.non2xx === 0;
  return {
    path,
    figure: `${thousands(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms${clean ? '' : `, ${result.errors} errors, ${result.non2xx} non-2xx`}`,
    baseline: `${thousands(bare.rps)} req/s, p99 ${bare.p99} ms (bare Node http, fixed 200-byte JSON, alternating rounds)`,
    ratio: `${fixed(ratio)}×`,
    target: `≥ ${target.ratio}×, p99 ≤ ${target.p99} ms`,
    pass: clean && ratio >= target.ratio && result.p99 <= target.p99,
  };
}

/** Where the hot paths are measured: the API of a data set, its database, its users. */
export interface HotTarget {
  label: string;
  api: Service;
  auth: { authorization: string };
  databaseUrl: string;
  users: number;
}

const mainTarget = (context: BenchContext): HotTarget => ({
  label: '',
  api: context.api,
  auth: context.auth,
  databaseUrl: context.databaseUrl,
  users: context.size.users,
});

/** The write load of the targets: a PATCH of `userId` adding two random segments and removing a third. */
export function patchRequest(context: BenchContext, userId: number): { method: 'PATCH'; path: string; body: string } {
  const picks = new Set<number>();
  while (picks.size < 3) picks.add(randomInt(context.size.segments) - 1);
  const [a, b, c] = [...picks].map(segmentSlug);
  return { method: 'PATCH', path: `/users/${userId}/segments`, body: JSON.stringify({ add: [a, b], remove: [c] }) };
}

/** pgbench changes users 1 … n/2 and the service n/2+1 … n: the same work on equal halves, and history checks see only the service's. */
const serviceUser = (target: HotTarget) => Math.floor(target.users / 2) + randomInt(target.users - Math.floor(target.users / 2));

/** SPEC §8: the read hot path at ≥ 0.5× the bare server, p99 ≤ 25 ms. */
const READ_TARGET = { ratio: 0.5, p99: 25 };

function measureGet(context: BenchContext, target: HotTarget): Promise<Row> {
  return againstBare(
    context,
    `GET /users/{id}/segments${target.label}`,
    { url: target.api.url, headers: target.auth, next: () => ({ path: `/users/${randomInt(target.users)}/segments` }) },
    READ_TARGET,
  );
}

export async function get(context: BenchContext): Promise<Row[]> {
  return [await measureGet(context, mainTarget(context))];
}

export async function compatGet(context: BenchContext): Promise<Row[]> {
  return [
    await againstBare(
      context,
      'GET /segment/user/{id} (compat)',
      { url: context.api.url, next: () => ({ path: `/segment/user/${randomInt(context.size.users)}` }) },
      READ_TARGET,
    ),
  ];
}

/**
 * Two adds and one removal of distinct random segments for a random user, beside the same
 * statements as one hand-written transaction per request (pgbench -M prepared, as many clients
 * as connections), on the same database in the same run; then the batch sizes the service saw
 * and a correctness check.
 */
async function measurePatch(context: BenchContext, target: HotTarget): Promise<Row[]> {
  const baseline = await pgbenchPatch(
    target.databaseUrl,
    Math.floor(target.users / 2),
    context.size.segments,
    context.connections,
    context.seconds,
  );
  const before = await batchSizes(target);
  const watermark = await lastHistoryId(target);
  const result = await measured(context, {
    url: target.api.url,
    headers: target.auth,
    next: () => patchRequest(context, serviceUser(target)),
  });
  const after = await batchSizes(target);
  const ratio = result.rps / baseline.tps;
  const clean = result.errors === 0 && result.non2xx === 0;
  const batches = after.count - before.count;
  return [
    {
      path: `PATCH /users/{id}/segments (2 adds, 1 remove)${target.label}`,
      figure: `${thousands(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms${clean ? '' : `, ${result.errors} errors, ${result.non2xx} non-2xx`}`,
      baseline: `${thousands(baseline.tps)} tx/s raw SQL (pgbench -M prepared, ${context.connections} clients, avg ${fixed(baseline.latencyMs, 1)} ms)`,
      ratio: `${fixed(ratio)}×`,
      target: '≥ 1.0×, p99 ≤ 50 ms',
      pass: clean && ratio >= 1 && result.p99 <= 50,
    },
    {
      path: `… write batches${target.label}`,
      figure: `${thousands(batches)} transactions, ${fixed((after.sum - before.sum) / Math.max(batches, 1), 1)} requests each on average`,
      baseline: '—',
      ratio: '—',
      target: 'reported',
      pass: null,
    },
    await correctness(target, watermark),
  ];
}

export async function patch(context: BenchContext): Promise<Row[]> {
  return measurePatch(context, mainTarget(context));
}

/** Both hot paths on a data set the API filled itself (bulk registration, rollouts), never analysed by hand. */
export async function hotPathsOn(context: BenchContext, target: HotTarget): Promise<Row[]> {
  return [await measureGet(context, target), ...(await measurePatch(context, target))];
}

async function lastHistoryId(target: HotTarget): Promise<number> {
  return withDb(target.databaseUrl, async (db) => {
    return Number((await db.query('SELECT coalesce(max(id), 0) AS id FROM membership_history')).rows[0].id);
  });
}

/** Count and sum of the service's write batch sizes (its /metrics histogram). */
async function batchSizes(target: HotTarget): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${target.api.url}/metrics`, { headers: target.auth })).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);
  return { count: value('membership_write_batch_size_count'), sum: value('membership_write_batch_size_sum') };
}

/**
 * After the write load: sampled users read through the API equal what the database holds, and
 * each sampled user's history replays to its memberships: for every segment the load changed
 * (an entry after `watermark`), the last entry is an add exactly when the user is in it.
 */
async function correctness(target: HotTarget, watermark: number): Promise<Row> {
  const samples = 300;
  let mismatches = 0;
  await withDb(target.databaseUrl, async (db) => {
    for (let index = 0; index < samples; index++) {
      const userId = serviceUser(target);
      const response = await fetch(`${target.api.url}/users/${userId}/segments`, { headers: target.auth });
      const body = (await response.json()) as { segments: { slug: string }[] };
      const { rows } = await db.query(
        `SELECT s.slug FROM memberships m JOIN segments s ON s.id = m.segment_id
         WHERE m.user_id = $1 AND s.deleted_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > now()) ORDER BY s.slug COLLATE "C"`,
        [userId],
      );
      const replay = await db.query(
        `SELECT count(*)::int AS wrong FROM (
           SELECT DISTINCT ON (segment_id) segment_id, operation FROM membership_history
           WHERE user_id = $1 AND segment_id IN (SELECT segment_id FROM membership_history WHERE user_id = $1 AND id > $2)
           ORDER BY segment_id, occurred_at DESC, id DESC) last
         LEFT JOIN (SELECT segment_id FROM memberships WHERE user_id = $1) m USING (segment_id)
         WHERE (last.operation = 'add') IS DISTINCT FROM (m.segment_id IS NOT NULL)`,
        [userId, watermark],
      );
      const read = JSON.stringify(body.segments.map((segment) => segment.slug)) === JSON.stringify(rows.map((row) => row.slug));
      if (!read || replay.rows[0].wrong > 0) mismatches++;
    }
  });
  return {
    path: `correctness: sampled reads = database, history replays${target.label}`,
    figure: `${samples - mismatches}/${samples} users match`,
    baseline: '—',
    ratio: '—',
    target: 'all match',
    pass: mismatches === 0,
  };
}
