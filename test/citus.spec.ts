import { HistoryModule, HistoryPartitionsService } from '#libs/history';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCitusDatabase, dropCitusDatabase, enableCitus } from './support/citus-cluster.js';
import { migrate, randomSuffix } from './support/database.js';
import { createServiceSuite, type ServiceSuite } from './support/services.js';

/**
 * The schema the migrations lay out on a Citus cluster (npm run test:citus): tables keyed by
 * user spread over shards by user id and co-located, the small ones on every node, and a
 * user's reads and writes sent to the one shard that holds the user.
 */
describe('on a Citus cluster', () => {
  let s: ServiceSuite;
  let db: pg.Pool;

  beforeAll(async () => {
    s = await createServiceSuite([HistoryModule]);
    db = s.db;
  });
  afterAll(async () => s?.close());

  it('distributes the per-user tables by user id, co-located, and copies the small ones to every node', async () => {
    const { rows } = await db.query<{ table: string; method: string; column: string | null; group: number }>(
      `SELECT logicalrelid::regclass::text AS table, partmethod AS method,
              CASE WHEN partmethod = 'h' THEN column_to_column_name(logicalrelid, partkey) END AS column, colocationid AS group
       FROM pg_dist_partition WHERE logicalrelid::regclass::text NOT LIKE 'membership_history\\_%' ORDER BY 1`,
    );
    const byTable = Object.fromEntries(rows.map((row) => [row.table, row]));
    for (const [table, column] of Object.entries({
      users: 'id',
      memberships: 'user_id',
      segment_opt_outs: 'user_id',
      membership_history: 'user_id',
      import_rows: 'user_id',
    })) {
      expect(byTable[table], table).toMatchObject({ method: 'h', column, group: byTable.users!.group });
    }
    for (const table of ['segments', 'api_tokens', 'imports', 'change_feed_relay'])
      expect(byTable[table], table).toMatchObject({ method: 'n' });
  });

  it('distributes history partitions with their table, those created later too', async () => {
    await s.get(HistoryPartitionsService).ensurePartition(new Date('2031-07-01T00:00:00Z'));
    const { rows } = await db.query<{ partition: string; group: number }>(
      `SELECT c.relname AS partition, p.colocationid AS group
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
       WHERE i.inhparent = 'membership_history'::regclass`,
    );
    const [users] = (
      await db.query<{ group: number }>(`SELECT colocationid AS group FROM pg_dist_partition WHERE logicalrelid = 'users'::regclass`)
    ).rows;
    expect(rows.map((row) => row.partition)).toContain('membership_history_y2031m07');
    for (const row of rows) expect(row.group, row.partition).toBe(users!.group);
  });

  it('sends a user’s read and write to the one shard that holds the user (a router plan)', async () => {
    await db.query(`INSERT INTO segments (slug) VALUES ('ROUTED')`);
    const tasks = async (sql: string) => {
      const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      return Number(/Task Count: (\d+)/.exec(plan)?.[1]);
    };
    expect(
      await tasks(
        `SELECT m.user_id, s.slug, m.expires_at, m.source FROM memberships m JOIN segments s ON s.id = m.segment_id
         WHERE m.user_id = ANY('{42}'::bigint[]) AND s.deleted_at IS NULL ORDER BY m.user_id, s.slug`,
      ),
    ).toBe(1);
    expect(
      await tasks(
        `INSERT INTO memberships (user_id, segment_id, source) VALUES (42, 1, 'manual')
         ON CONFLICT (user_id, segment_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      ),
    ).toBe(1);
    expect(await tasks(`SELECT id FROM users WHERE id = 42 FOR NO KEY UPDATE SKIP LOCKED`)).toBe(1);
  });

  it('moves a database that already holds data onto the cluster: the next migration run distributes it, rows and all', async () => {
    const nodes = inject('citusNodes');
    const name = `seg_test_move_${randomSuffix()}`;
    const url = await createCitusDatabase(nodes, name, { coordinatorLater: true });
    const moved = new pg.Pool({ connectionString: url, max: 2 });
    try {
      // A running deployment on one PostgreSQL: its schema and rows.
      await migrate(url);
      await moved.query(`INSERT INTO segments (slug) VALUES ('MOVED')`);
      await moved.query('INSERT INTO users (id) SELECT generate_series(1, 20000)');
      await moved.query(`INSERT INTO memberships (user_id, segment_id, source) SELECT id, 1, 'manual' FROM users WHERE id % 2 = 0`);
      await moved.query(
        `INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, actor, occurred_at, feed_batch)
         SELECT user_id, 1, 'MOVED', 'add', 'manual', 'test', now(), 0 FROM memberships`,
      );
      const counts = async () =>
        (
          await moved.query(
            `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM memberships)::int AS memberships,
                    (SELECT count(*) FROM membership_history)::int AS history`,
          )
        ).rows[0];
      const before = await counts();

      // The operator creates the extension and adds the nodes; the service's next start migrates.
      await enableCitus(nodes, name);
      await migrate(url);
      const distributed = await moved.query<{ table: string }>(`SELECT logicalrelid::regclass::text AS table FROM pg_dist_partition`);
      expect(distributed.rows.map((row) => row.table)).toEqual(
        expect.arrayContaining(['users', 'memberships', 'membership_history', 'segments']),
      );
      expect(await counts()).toEqual(before);
      expect(before).toEqual({ users: 20000, memberships: 10000, history: 10000 });
      // Run again, it changes nothing.
      await migrate(url);
      expect(await counts()).toEqual(before);
    } finally {
      await moved.end();
      await dropCitusDatabase(nodes, name);
    }
  });
});
