import type pg from 'pg';
import type { Expectation } from './load.js';

/** A broken invariant, with a few examples. */
export interface Violation {
  check: string;
  count: number;
  examples: unknown[];
}

async function rows<T>(db: pg.Pool, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db.query(sql, params)).rows as T[];
}

/** Every acknowledged change is in the final state, unless a later acknowledged change of the same membership overrode it. */
export async function acknowledgedChanges(db: pg.Pool, expectations: Map<string, Expectation>): Promise<Violation | null> {
  const live = new Set(
    (
      await rows<{ key: string }>(
        db,
        `SELECT m.user_id || ':' || s.slug AS key FROM memberships m JOIN segments s ON s.id = m.segment_id
         WHERE s.deleted_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > now())`,
      )
    ).map((row) => row.key),
  );
  const wrong = [...expectations].filter(([key, state]) => state !== 'unknown' && (state === 'in') !== live.has(key));
  return wrong.length ? { check: 'acknowledged changes', count: wrong.length, examples: wrong.slice(0, 5) } : null;
}

/**
 * History replays exactly to the final state: per membership, entries alternate add/remove
 * starting with an add, and the last one is an add exactly when the membership exists.
 */
export async function historyReplays(db: pg.Pool): Promise<Violation | null> {
  const broken = await rows<{ user_id: string; segment_id: number; problem: string }>(
    db,
    `WITH ordered AS (
       SELECT user_id, segment_id, operation,
              lag(operation) OVER (PARTITION BY user_id, segment_id ORDER BY occurred_at, id) AS previous
       FROM membership_history),
     alternation AS (
       SELECT user_id, segment_id, 'repeated ' || operation AS problem FROM ordered
       WHERE operation = previous OR (previous IS NULL AND operation = 'remove')),
     last AS (
       SELECT DISTINCT ON (user_id, segment_id) user_id, segment_id, operation FROM membership_history
       ORDER BY user_id, segment_id, occurred_at DESC, id DESC),
     mismatch AS (
       SELECT coalesce(l.user_id, m.user_id) AS user_id, coalesce(l.segment_id, m.segment_id) AS segment_id,
              CASE WHEN m.user_id IS NULL THEN 'history says member' ELSE 'member without history' END AS problem
       FROM last l FULL JOIN memberships m ON m.user_id = l.user_id AND m.segment_id = l.segment_id
       WHERE (l.operation = 'add') IS DISTINCT FROM (m.user_id IS NOT NULL))
     SELECT * FROM alternation UNION ALL SELECT * FROM mismatch`,
  );
  return broken.length ? { check: 'history replays to the final state', count: broken.length, examples: broken.slice(0, 5) } : null;
}

/** Automatic members of every finished rollout are exactly the bucket set minus opt-outs (users with a manual membership aside). */
export async function autoMembersExact(db: pg.Pool): Promise<Violation | null> {
  const wrong = await rows<{ segment_id: number; user_id: string; problem: string }>(
    db,
    `WITH auto AS (
       SELECT id, round(auto_percent * 100)::int AS threshold FROM segments
       WHERE deleted_at IS NULL AND auto_percent IS NOT NULL AND rollout_state = 'done')
     SELECT a.id AS segment_id, u.id AS user_id, 'missing' AS problem
     FROM auto a CROSS JOIN users u
     WHERE segment_bucket(a.id, u.id) < a.threshold
       AND NOT EXISTS (SELECT 1 FROM segment_opt_outs o WHERE o.user_id = u.id AND o.segment_id = a.id)
       AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.segment_id = a.id)
     UNION ALL
     SELECT a.id, m.user_id, 'extra'
     FROM auto a JOIN memberships m ON m.segment_id = a.id AND m.source = 'auto'
     WHERE segment_bucket(a.id, m.user_id) >= a.threshold
        OR EXISTS (SELECT 1 FROM segment_opt_outs o WHERE o.user_id = m.user_id AND o.segment_id = a.id)`,
  );
  return wrong.length ? { check: 'automatic members = bucket set − opt-outs', count: wrong.length, examples: wrong.slice(0, 5) } : null;
}

/** No member of a purged segment remains. */
export async function purgedSegmentsEmpty(db: pg.Pool): Promise<Violation | null> {
  const left = await rows<{ segment_id: number; members: string }>(
    db,
    `SELECT m.segment_id, count(*) AS members FROM memberships m JOIN segments s ON s.id = m.segment_id
     WHERE s.purged_at IS NOT NULL GROUP BY m.segment_id`,
  );
  return left.length ? { check: 'purged segments are empty', count: left.length, examples: left } : null;
}

/** Every membership and opt-out names an existing user and segment (the tables have no foreign keys; the write paths guarantee it). */
export async function referencesExist(db: pg.Pool): Promise<Violation | null> {
  const dangling = await rows<{ kind: string; user_id: string; segment_id: number }>(
    db,
    `SELECT kind, user_id, segment_id FROM (
       SELECT 'membership' AS kind, user_id, segment_id FROM memberships
       UNION ALL SELECT 'opt-out', user_id, segment_id FROM segment_opt_outs
     ) AS r
     WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id) OR NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = r.segment_id)
     LIMIT 5`,
  );
  return dangling.length
    ? { check: 'memberships and opt-outs name existing users and segments', count: dangling.length, examples: dangling }
    : null;
}

export async function allInvariants(db: pg.Pool, expectations: Map<string, Expectation>): Promise<Violation[]> {
  const results = await Promise.all([
    acknowledgedChanges(db, expectations),
    historyReplays(db),
    autoMembersExact(db),
    purgedSegmentsEmpty(db),
    referencesExist(db),
  ]);
  return results.filter((violation): violation is Violation => violation !== null);
}
