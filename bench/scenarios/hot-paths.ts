import pg from 'pg';
import type { BenchContext } from '../context.js';
import { segmentSlug } from '../dataset.js';
import { load, randomInt, type LoadOptions, type LoadResult } from '../load.js';
import { startBare } from '../processes.js';
import { fixed, thousands, type Row } from '../table.js';

const BARE_PORT = 3931;

/** Loads `options` once unmeasured (JIT, pools and caches warm up), then measures a second run. */
async function measured(context: BenchContext, options: Omit<LoadOptions, 'seconds' | 'connections'>): Promise<LoadResult> {
  const settings = { ...options, connections: context.connections, headers: context.auth };
  await load({ ...settings, seconds: context.quick ? 1 : 3 });
  return load({ ...settings, seconds: context.seconds });
}

function hotRow(path: string, result: LoadResult, bareRps: number, minRatio: number, maxP99: number): Row {
  const ratio = result.rps / bareRps;
  const clean = result.errors === 0 && result.non2xx === 0;
  return {
    path,
    figure: `${thousands(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms${clean ? '' : `, ${result.errors} errors, ${result.non2xx} non-2xx`}`,
    baseline: `${thousands(bareRps)} req/s`,
    ratio: `${fixed(ratio)}×`,
    target: `≥ ${minRatio}×, p99 ≤ ${maxP99} ms`,
    pass: clean && ratio >= minRatio && result.p99 <= maxP99,
  };
}

/** The runtime ceiling: a bare Node http server under the same load and request generation. */
export async function bare(context: BenchContext): Promise<Row[]> {
  const server = await startBare(BARE_PORT);
  try {
    const result = await load({
      url: server.url,
      seconds: context.seconds,
      connections: context.connections,
      next: () => ({ path: `/users/${randomInt(context.size.users)}/segments` }),
    });
    context.bareRps = result.rps;
    return [
      {
        path: 'bare Node http, fixed 200-byte JSON',
        figure: `${thousands(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`,
        baseline: '—',
        ratio: '1.00×',
        target: 'baseline',
        pass: null,
      },
    ];
  } finally {
    await server.stop();
  }
}

export async function get(context: BenchContext): Promise<Row[]> {
  const result = await measured(context, {
    url: context.api.url,
    next: () => ({ path: `/users/${randomInt(context.size.users)}/segments` }),
  });
  return [hotRow('GET /users/{id}/segments', result, context.bareRps!, 0.5, 25)];
}

export async function compatGet(context: BenchContext): Promise<Row[]> {
  const result = await measured(context, {
    url: context.api.url,
    next: () => ({ path: `/segment/user/${randomInt(context.size.users)}` }),
  });
  return [hotRow('GET /segment/user/{id} (compat)', result, context.bareRps!, 0.5, 25)];
}

/** Two adds and one remove of distinct random segments for a random user, then a sampled correctness check. */
export async function patch(context: BenchContext): Promise<Row[]> {
  const result = await measured(context, {
    url: context.api.url,
    next: () => {
      const picks = new Set<number>();
      while (picks.size < 3) picks.add(randomInt(context.size.segments) - 1);
      const [a, b, c] = [...picks].map(segmentSlug);
      return {
        method: 'PATCH',
        path: `/users/${randomInt(context.size.users)}/segments`,
        body: JSON.stringify({ add: [a, b], remove: [c] }),
      };
    },
  });
  return [hotRow('PATCH /users/{id}/segments (2 adds, 1 remove)', result, context.bareRps!, 0.15, 50), await correctness(context)];
}

/** Reads of sampled users after the write load must equal what the database holds. */
async function correctness(context: BenchContext): Promise<Row> {
  const db = new pg.Client({ connectionString: context.databaseUrl });
  await db.connect();
  const samples = 300;
  let mismatches = 0;
  try {
    for (let index = 0; index < samples; index++) {
      const userId = randomInt(context.size.users);
      const response = await fetch(`${context.api.url}/users/${userId}/segments`, { headers: context.auth });
      const body = (await response.json()) as { segments: { slug: string }[] };
      const { rows } = await db.query(
        `SELECT s.slug FROM memberships m JOIN segments s ON s.id = m.segment_id
         WHERE m.user_id = $1 AND s.deleted_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > now()) ORDER BY s.slug COLLATE "C"`,
        [userId],
      );
      if (JSON.stringify(body.segments.map((segment) => segment.slug)) !== JSON.stringify(rows.map((row) => row.slug))) mismatches++;
    }
  } finally {
    await db.end();
  }
  return {
    path: 'correctness: sampled reads = database',
    figure: `${samples - mismatches}/${samples} users match`,
    baseline: '—',
    ratio: '—',
    target: 'all match',
    pass: mismatches === 0,
  };
}
