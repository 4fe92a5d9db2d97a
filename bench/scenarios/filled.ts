import type { BenchContext } from '../context.js';
import { createDatabase, segmentSlug, serviceMaintenanceDone, until, withDb } from '../dataset.js';
import { createBenchToken, serviceEnv, startApi, startWorker } from '../processes.js';
import { since } from '../psql.js';
import { fixed, thousands, type Row } from '../table.js';
import { hotPathsOn } from './hot-paths.js';

const API_PORT = 3941;
const WORKER_PORT = 3942;
/** 20 segments at 15 %: about 3 memberships per user, as the targets' data set. */
const AUTO_PERCENT = 15;

/**
 * The hot paths on a data set the service filled itself, as production databases are: users
 * registered through POST /users/bulk, segments rolled out by the worker, and no ANALYZE by
 * hand (this PostgreSQL runs without autovacuum, so only the service keeps statistics fresh).
 */
export async function apiFilled(context: BenchContext): Promise<Row[]> {
  const databaseUrl = await createDatabase(context.server, context.quick ? 'seg_bench_api_quick' : 'seg_bench_api');
  const env = serviceEnv(databaseUrl);
  const api = await startApi(env, API_PORT);
  const worker = await startWorker({ ...env, RECONCILE_INTERVAL_MS: '1000' }, WORKER_PORT);
  try {
    const auth = { authorization: `Bearer ${await createBenchToken(api.url)}` };
    const call = async (path: string, method: string, body: object) => {
      const response = await fetch(`${api.url}${path}`, {
        method,
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
    };
    const users = context.size.users;
    const started = process.hrtime.bigint();
    for (let first = 1; first <= users; first += 100_000) {
      await call('/users/bulk', 'POST', {
        user_ids: Array.from({ length: Math.min(100_000, users - first + 1) }, (_, index) => first + index),
      });
    }
    for (let index = 0; index < context.size.segments; index++) {
      await call('/segments', 'POST', { slug: segmentSlug(index), auto_percent: AUTO_PERCENT });
    }
    const members = await withDb(databaseUrl, async (db) => {
      await until(async () => {
        const { rows } = await db.query(`SELECT count(*) FILTER (WHERE rollout_state <> 'done')::int AS busy FROM segments`);
        return rows[0].busy === 0;
      }, 600);
      return Number((await db.query('SELECT count(*) FROM memberships')).rows[0].count);
    });
    // The hot paths are measured on the steady state: after the closing statistics pass.
    await serviceMaintenanceDone(databaseUrl);
    const fill: Row = {
      path: 'API-filled data set: bulk registration, then rollouts by the worker',
      figure: `${thousands(users)} users, ${context.size.segments} segments at ${AUTO_PERCENT} %, ${thousands(members)} memberships in ${fixed(since(started))} s`,
      baseline: '—',
      ratio: '—',
      target: 'reported',
      pass: null,
    };
    return [fill, ...(await hotPathsOn(context, { label: ' — API-filled, no manual ANALYZE', api, auth, databaseUrl, users }))];
  } finally {
    await worker.stop();
    await api.stop();
  }
}
