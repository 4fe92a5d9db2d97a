import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface DatasetSize {
  users: number;
  segments: number;
  /** History rows written into last month (the CSV benchmark's month) and into this month. */
  historyLastMonth: number;
  historyThisMonth: number;
}

/** The performance targets' data set: 1 000 000 users, 20 segments, ~3 000 000 memberships, ~5 000 000 history rows. */
export const FULL: DatasetSize = { users: 1_000_000, segments: 20, historyLastMonth: 1_000_000, historyThisMonth: 4_000_000 };
export const QUICK: DatasetSize = { users: 50_000, segments: 20, historyLastMonth: 100_000, historyThisMonth: 150_000 };

export const segmentSlug = (index: number) => `BENCH_SEGMENT_${String(index).padStart(2, '0')}`;

export function databaseUrl(server: string, database: string): string {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Builds the data set in a fresh database with set-based SQL (generate_series), not through
 * the API: schema by the service's own migrations, history partitions by its own
 * maintenance (`prepare` starts the API once for that), then the rows.
 */
export async function createDatabase(server: string, database: string): Promise<string> {
  await withDb(server, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  });
  const url = databaseUrl(server, database);
  migrate(url);
  return url;
}

/** The service's own migrations (on a Citus cluster they distribute the schema too). */
export function migrate(url: string): void {
  execFileSync(process.execPath, ['dist/apps/api/src/migrate.cli.js'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url },
    stdio: 'ignore',
  });
}

/** Runs `work` on a connection of its own to `url`, closed afterwards. */
export async function withDb<T>(url: string, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Polls `check` until it holds; fails after `timeoutSeconds`. */
export async function until(check: () => Promise<boolean>, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutSeconds} s`);
    await sleep(100);
  }
}

/**
 * Waits until the service's background work on the database is over: its closing statistics
 * pass runs a second after bulk changes stop (`VACUUM (ANALYZE)`), and the change feed's relay
 * has published every history entry. Every scenario starts after the previous one's, so none is
 * measured on another one's leftovers.
 */
export async function serviceMaintenanceDone(url: string): Promise<void> {
  await sleep(1_500);
  await withDb(url, (db) =>
    until(async () => {
      const { rows } = await db.query(
        `SELECT (SELECT count(*)::int FROM pg_stat_activity
                 WHERE datname = current_database() AND (query ILIKE 'VACUUM%' OR query ILIKE 'ANALYZE%') AND state = 'active') AS running,
                EXISTS (SELECT 1 FROM membership_history WHERE feed_batch IS NULL) AS unpublished`,
      );
      return rows[0].running === 0 && !rows[0].unpublished;
    }, 300),
  );
}

export async function fillDataset(url: string, size: DatasetSize): Promise<void> {
  await withDb(url, async (db) => {
    await db.query('INSERT INTO users (id) SELECT generate_series(1, $1)', [size.users]);
    await db.query(`INSERT INTO segments (slug) SELECT 'BENCH_SEGMENT_' || lpad(i::text, 2, '0') FROM generate_series(0, $1 - 1) AS i`, [
      size.segments,
    ]);
    // Three segments per user (fewer where two picks coincide), one membership in ten expiring in 30 days.
    await db.query(
      `INSERT INTO memberships (user_id, segment_id, source, expires_at)
       SELECT DISTINCT ON (u, s.id) u, s.id, 'manual', CASE WHEN u % 10 = 0 THEN now() + interval '30 days' END
       FROM generate_series(1, $1) AS u
       CROSS JOIN LATERAL (VALUES (u % $2), ((u * 7 + 3) % $2), ((u * 13 + 5) % $2)) AS pick (k)
       JOIN segments s ON s.slug = 'BENCH_SEGMENT_' || lpad(pick.k::text, 2, '0')
       ON CONFLICT DO NOTHING`,
      [size.users, size.segments],
    );
    // Entries spread evenly over [from, to), published in the change feed's first batch (like history older than its relay).
    const history = (count: number, from: string, to: string) =>
      db.query(
        `INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, occurred_at, feed_batch)
         SELECT 1 + (g::bigint * 7919) % $1, 1 + g % $2, 'BENCH_SEGMENT_' || lpad((g % $2)::text, 2, '0'),
                CASE WHEN g % 3 = 0 THEN 'remove' ELSE 'add' END, 'manual',
                ${from} + (g::float8 / $3) * (${to} - ${from}), 0
         FROM generate_series(0, $3 - 1) AS g`,
        [size.users, size.segments, count],
      );
    await history(size.historyLastMonth, `date_trunc('month', now() - interval '1 month')`, `date_trunc('month', now())`);
    await history(size.historyThisMonth, `date_trunc('month', now())`, 'now()');
    await db.query('VACUUM ANALYZE');
  });
}
