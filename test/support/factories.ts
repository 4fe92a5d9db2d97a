import type pg from 'pg';

export interface HistoryRow {
  user_id: number;
  segment_slug: string;
  operation: 'add' | 'remove';
  reason: string;
  occurred_at: Date;
}

/**
 * Small data factories for arranging a test's state directly in its database, and readers
 * for asserting on it, so that a test says what it needs rather than how to get there.
 */
export function factories(db: pg.Pool) {
  const rows = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows as T[];
  /** Whether the database is on a Citus cluster (npm run test:citus). */
  const citus = async () =>
    (await rows<{ citus: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`))[0]!.citus;
  return {
    /**
     * A segment; returns its id. With auto_percent its rollout (version 1) is `done`, or
     * `pending` to let a test run it.
     */
    async segment(slug: string, options: { autoPercent?: number; rollout?: 'pending' | 'done'; deleted?: boolean } = {}): Promise<number> {
      const [row] = await rows<{ id: number }>(
        `INSERT INTO segments (slug, auto_percent, rollout_state, rollout_version, deleted_at)
         VALUES ($1, $2, CASE WHEN $2::numeric IS NOT NULL THEN $3 END, CASE WHEN $2::numeric IS NULL THEN 0 ELSE 1 END,
                 CASE WHEN $4 THEN now() END)
         RETURNING id`,
        [slug, options.autoPercent ?? null, options.rollout ?? 'done', options.deleted ?? false],
      );
      return row!.id;
    },
    /** Registers users 1 … count (or the given ids). */
    async users(ids: number[] | number): Promise<void> {
      const list = typeof ids === 'number' ? Array.from({ length: ids }, (_, index) => index + 1) : ids;
      await db.query('INSERT INTO users (id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING', [list]);
    },
    /** A membership (registering the user); `expiresAt` may be in the past, as if no sweep had run yet. */
    async membership(userId: number, segmentId: number, options: { source?: 'manual' | 'auto'; expiresAt?: Date } = {}): Promise<void> {
      await db.query('INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING', [userId]);
      await db.query('INSERT INTO memberships (user_id, segment_id, source, expires_at) VALUES ($1, $2, $3, $4)', [
        userId,
        segmentId,
        options.source ?? 'manual',
        options.expiresAt ?? null,
      ]);
    },
    /**
     * Lets `seconds` pass for a user without waiting: its expiries and its history move that
     * much into the past, as if everything had happened earlier.
     */
    async elapse(userId: number, seconds: number): Promise<void> {
      // Row by row with the instants computed here: Citus refuses timestamptz arithmetic on a column in an UPDATE.
      const shift = (instant: Date) => new Date(instant.getTime() - seconds * 1000);
      for (const row of await rows<{ segment_id: number; expires_at: Date }>(
        'SELECT segment_id, expires_at FROM memberships WHERE user_id = $1 AND expires_at IS NOT NULL',
        [userId],
      )) {
        await db.query('UPDATE memberships SET expires_at = $3 WHERE user_id = $1 AND segment_id = $2', [
          userId,
          row.segment_id,
          shift(row.expires_at),
        ]);
      }
      for (const row of await rows<{ id: string; occurred_at: Date }>('SELECT id, occurred_at FROM membership_history WHERE user_id = $1', [
        userId,
      ])) {
        await db.query('UPDATE membership_history SET occurred_at = $3 WHERE user_id = $1 AND id = $2', [
          userId,
          row.id,
          shift(row.occurred_at),
        ]);
      }
    },
    /** Member user ids of a segment, ascending. */
    async members(segmentId: number, source?: 'manual' | 'auto'): Promise<number[]> {
      const found = await rows<{ user_id: string }>(
        'SELECT user_id FROM memberships WHERE segment_id = $1 AND ($2::text IS NULL OR source = $2) ORDER BY user_id',
        [segmentId, source ?? null],
      );
      return found.map((row) => Number(row.user_id));
    },
    /** A user's history in the order it happened. */
    history(userId: number): Promise<HistoryRow[]> {
      return rows<HistoryRow>(
        `SELECT user_id::int, segment_slug, operation, reason, occurred_at FROM membership_history WHERE user_id = $1 ORDER BY occurred_at, id`,
        [userId],
      );
    },
    count: async (sql: string, params: unknown[] = []) => Number((await rows<{ count: string }>(sql, params))[0]!.count),
    /** The planner's row estimate of `table` (on a Citus cluster, the sum over its shards). */
    async estimatedRows(table: string): Promise<number> {
      if (!(await citus()))
        return Number((await rows<{ n: number }>('SELECT reltuples AS n FROM pg_class WHERE oid = $1::regclass', [table]))[0]!.n);
      const shards = await rows<{ result: string }>(
        `SELECT result FROM run_command_on_shards($1, $$SELECT reltuples FROM pg_class WHERE oid = '%s'::regclass$$)`,
        [table],
      );
      return shards.reduce((sum, shard) => sum + Math.max(0, Number(shard.result)), 0);
    },
    /** Statements like `statement` waiting for a lock in this database (on a Citus cluster, on any of its nodes). */
    async lockWaits(statement: string): Promise<number> {
      const sql = (await citus())
        ? 'SELECT count(*) FROM citus_lock_waits WHERE blocked_statement LIKE $1'
        : `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`;
      return Number((await rows<{ count: string }>(sql, [statement]))[0]!.count);
    },
  };
}

export type Factories = ReturnType<typeof factories>;
