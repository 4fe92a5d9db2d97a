import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Deployment, lockRows, queryRows, TableStatistics } from '#libs/database';
import {
  AUTOMATIC_ACTOR,
  EXPIRY_ACTOR,
  HistorySubscriber,
  type HistoryOperation,
  type HistoryReason,
  type MembershipChange,
} from '#libs/history';
import { activeSegment, type AutoSegment, type DeletedSegment, type RolloutRow } from '#libs/segments';
import { DataSource, type EntityManager } from 'typeorm';
import { removalChange, type RemovedMembership } from './membership.rules.js';
import { expiredMembership as expired, liveMembership as live } from './membership.sql.js';
import type { SegmentMember, UserSegment } from './memberships.types.js';

/** The percent rule: the user's bucket for the segment is below the threshold (see segment_bucket and thresholdOf). */
const selected = (user: string, segment: string, threshold: string) => `(segment_bucket(${segment}, ${user}) < ${threshold})`;

/**
 * The one definition of automatic eligibility: selected, and not opted out (an explicit removal
 * sticks). The opt-outs looked at are those `optOuts` selects (`o`: the statement's users), read
 * once rather than per user: bounded, a hashed read of them costs what the statement's users
 * do, and Citus refuses a subquery correlated with a list of ids.
 */
const eligible = (user: string, segment: string, threshold: string, optOuts: string) =>
  `${selected(user, segment, threshold)}
   AND (${user}, ${segment}) NOT IN (SELECT o.user_id, o.segment_id FROM segment_opt_outs o WHERE ${optOuts})`;

/** A rollout chunk's range of user ids, ($2, $3], for the bounds of its subqueries. */
const inChunk = (user: string) => `${user} > $2 AND ${user} <= $3`;

/** Live segments of the given users, by user then slug: the one read of a user's segments. */
const USERS_SEGMENTS = `
  SELECT m.user_id AS "userId", s.slug, m.expires_at AS "expiresAt", m.source
  FROM memberships m JOIN segments s ON s.id = m.segment_id
  WHERE m.user_id = ANY($1::bigint[]) AND ${activeSegment('s')} AND ${live('m')}
  ORDER BY m.user_id, s.slug`;

const SEGMENT_MEMBERS = `
  SELECT m.user_id AS "userId", m.expires_at AS "expiresAt", m.source
  FROM memberships m
  WHERE m.segment_id = $1 AND m.user_id > $2 AND ${live('m')}
  ORDER BY m.user_id LIMIT $3`;

const COUNT_MEMBERS = `SELECT count(*) AS count FROM memberships m WHERE m.segment_id = $1 AND ${live('m')}`;

/**
 * The rows of (user, segment) pairs given as two arrays, read through their users: a statement
 * so written names the users it touches (`u.id = ANY`), which on a Citus cluster sends it to
 * their shards only and lets it run there (a list alone was pulled through the coordinator, or
 * sent to every shard). `position` keeps the order they were given in.
 */
const pairs = (users: string, segments: string, values = '') =>
  `users u JOIN unnest(${users}, ${segments}${values ? `, ${values}` : ''}) WITH ORDINALITY
     AS p (user_id, segment_id${values ? ', value' : ''}, position)
     ON p.user_id = u.id AND u.id = ANY(${users})`;

/**
 * The first step of a change: its removals (recording opt-outs), and for the other (user,
 * segment) pairs it touches (its adds), the end of their opt-outs and the removal of their
 * expired memberships, which no sweep has removed yet. The two membership deletes are of
 * disjoint keys: the second, filtered by expiry, is found through the expiry index and never
 * probes or scans for every key of a 100 000-user change (one DELETE with `removing OR expired`
 * hash-joined all of `memberships`). The opt-in is here rather than beside the upsert that
 * follows: Citus refuses an INSERT … SELECT led by a data-modifying CTE. Every delete names its
 * users (`user_id = ANY`), which keeps it to their shards on a cluster.
 */
const REMOVE_AND_OPT_OUT = `
  WITH opt_out AS (
    INSERT INTO segment_opt_outs (user_id, segment_id)
    SELECT p.user_id, p.segment_id FROM ${pairs('$1::bigint[]', '$2::int[]')}
    ON CONFLICT DO NOTHING
  ),
  opt_in AS (
    DELETE FROM segment_opt_outs o USING unnest($3::bigint[], $4::int[]) AS a (user_id, segment_id)
    WHERE o.user_id = a.user_id AND o.segment_id = a.segment_id AND o.user_id = ANY($3::bigint[])
  ),
  removed AS (
    DELETE FROM memberships m USING unnest($1::bigint[], $2::int[]) AS r (user_id, segment_id)
    WHERE m.user_id = r.user_id AND m.segment_id = r.segment_id AND m.user_id = ANY($1::bigint[])
    RETURNING m.user_id, m.segment_id, m.expires_at
  ),
  lapsed AS (
    DELETE FROM memberships m USING unnest($3::bigint[], $4::int[]) AS t (user_id, segment_id)
    WHERE m.user_id = t.user_id AND m.segment_id = t.segment_id AND m.user_id = ANY($3::bigint[]) AND ${expired('m')}
    RETURNING m.user_id, m.segment_id, m.expires_at
  )
  SELECT x.user_id AS "userId", x.segment_id AS "segmentId", x.expires_at AS "expiresAt", coalesce(${expired('x')}, false) AS expired
  FROM (SELECT * FROM removed UNION ALL SELECT * FROM lapsed) AS x`;

/**
 * Manual adds (after REMOVE_AND_OPT_OUT): inserts what does not exist and sets the expiry of
 * what does (re-adding sets the expiry to what the new request says; a manual add makes an
 * automatic membership manual). Reports only real inserts as added.
 */
const UPSERT_MANUAL = `
  INSERT INTO memberships (user_id, segment_id, source, expires_at)
  SELECT p.user_id, p.segment_id, 'manual', p.value
  FROM ${pairs('$1::bigint[]', '$2::int[]', '$3::timestamptz[]')}
  ORDER BY p.position
  ON CONFLICT (user_id, segment_id) DO UPDATE
    SET expires_at = EXCLUDED.expires_at, source = EXCLUDED.source
    WHERE memberships.expires_at IS DISTINCT FROM EXCLUDED.expires_at OR memberships.source <> EXCLUDED.source
  RETURNING user_id AS "userId", segment_id AS "segmentId", xmax = 0 AS inserted`;

/** Newly registered users get the automatic segments their buckets qualify for. */
const ASSIGN_AUTO = `
  INSERT INTO memberships (user_id, segment_id, source)
  SELECT u.id, s.id, 'auto'
  FROM users u CROSS JOIN unnest($2::int[], $3::int[]) AS s (id, threshold)
  WHERE u.id = ANY($1::bigint[]) AND ${eligible('u.id', 's.id', 's.threshold', 'o.user_id = ANY($1::bigint[])')}
  ON CONFLICT DO NOTHING
  RETURNING user_id AS "userId", segment_id AS "segmentId"`;

/**
 * A rollout chunk's users in ($2, $3] that need a change, locked (waiting for them) and
 * returned: those the rule selects that are not members (to add), and automatic members it no
 * longer selects (the threshold was lowered; to remove; manual members stay). Every subquery is
 * bounded to the chunk: hashed, an unbounded one read all the segment's members for each chunk
 * (a rollout over 1 000 000 users took 24 s instead of 8).
 */
const LOCK_ROLLOUT_CANDIDATES = lockRows({
  table: 'users',
  alias: 'u',
  key: 'id',
  where: `${inChunk('u.id')} AND (
    (${eligible('u.id', '$1::int', '$4', `o.segment_id = $1 AND ${inChunk('o.user_id')}`)}
     AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.segment_id = $1 AND ${inChunk('m.user_id')}))
    OR EXISTS (
      SELECT 1 FROM memberships m
      WHERE m.user_id = u.id AND m.segment_id = $1 AND ${inChunk('m.user_id')} AND m.source = 'auto' AND NOT ${selected('u.id', '$1', '$4')}))`,
  returning: `u.id AS "userId", ${selected('u.id', '$1', '$4')} AS add`,
});

/**
 * The candidates to add, locked: those still eligible become automatic members (an opt-out
 * committed while the chunk waited for a user's lock is seen here: a new statement)…
 */
const ROLLOUT_ADD = `
  INSERT INTO memberships (user_id, segment_id, source)
  SELECT u.id, $1, 'auto' FROM users u
  WHERE u.id = ANY($2::bigint[]) AND ${eligible('u.id', '$1::int', '$3', 'o.segment_id = $1 AND o.user_id = ANY($2::bigint[])')}
  ON CONFLICT DO NOTHING
  RETURNING user_id AS "userId"`;

/** … and the candidates to remove that are still automatic members the rule does not select leave. */
const ROLLOUT_REMOVE = `
  DELETE FROM memberships
  WHERE segment_id = $1 AND user_id = ANY($2::bigint[]) AND source = 'auto' AND NOT ${selected('user_id', '$1', '$3')}
  RETURNING user_id AS "userId"`;

/** Users with memberships due for removal, soonest first (the expires_at index), in active segments. */
const DUE_USERS = `
  SELECT m.user_id AS "userId" FROM memberships m JOIN segments s ON s.id = m.segment_id AND ${activeSegment('s')}
  WHERE ${expired('m')} ORDER BY m.expires_at LIMIT $1`;

/** Re-checks the expiry under the users' locks, so a membership renewed meanwhile is kept. */
const DELETE_EXPIRED = `
  DELETE FROM memberships m USING segments s
  WHERE m.user_id = ANY($1::bigint[]) AND ${expired('m')} AND s.id = m.segment_id AND ${activeSegment('s')}
  RETURNING m.user_id AS "userId", m.segment_id AS "segmentId", s.slug, m.expires_at AS "expiresAt", true AS expired`;

/**
 * After DELETE_EXPIRED: a user whose expired membership was of an automatic segment that selects
 * them, and who never opted out, is its automatic member again (SPEC §5: the segment contains
 * every selected user), as a rollout would make them; a rollout meanwhile saw the row and skipped.
 */
const REGRANT_AUTO = `
  INSERT INTO memberships (user_id, segment_id, source)
  SELECT p.user_id, p.segment_id, 'auto' FROM ${pairs('$1::bigint[]', '$2::int[]')}
  JOIN segments s ON s.id = p.segment_id AND ${activeSegment('s')} AND s.auto_percent > 0
  WHERE ${eligible('p.user_id', 'p.segment_id', '(s.auto_percent * 100)::int', 'o.user_id = ANY($1::bigint[])')}
  ON CONFLICT DO NOTHING
  RETURNING user_id AS "userId", segment_id AS "segmentId"`;

/** Up to $2 memberships of a deleted segment, removed; expiry is judged outside the DELETE (Citus refuses now() in RETURNING). */
const PURGE_BATCH = `
  WITH removed AS (
    DELETE FROM memberships m
    WHERE m.segment_id = $1 AND m.user_id IN (SELECT user_id FROM memberships WHERE segment_id = $1 ORDER BY user_id LIMIT $2)
    RETURNING m.user_id, m.segment_id, m.expires_at
  )
  SELECT r.user_id AS "userId", r.segment_id AS "segmentId", r.expires_at AS "expiresAt", coalesce(${expired('r')}, false) AS expired
  FROM removed r`;

/** The database clock, from which time-to-live expiries count. */
const NOW = 'SELECT clock_timestamp() AS now';

const HAS_MEMBERS = 'SELECT EXISTS (SELECT 1 FROM memberships WHERE segment_id = $1) AS any';

const DELETE_OPT_OUTS = 'DELETE FROM segment_opt_outs WHERE segment_id = $1';

/** A (user, segment) pair of a change. */
export interface MembershipKey {
  userId: number;
  segmentId: number;
}

/** Users of a rollout chunk whose membership changes. */
export interface RolloutCandidates {
  add: number[];
  remove: number[];
}

export interface ManualAdd extends MembershipKey {
  ttlSeconds?: number;
  expiresAt?: Date;
}

/**
 * Every statement on `memberships` and `segment_opt_outs`, hand-written: they are the hot
 * read and the set-based batch and bulk writes (one statement for a whole batch or chunk).
 * The statements that change memberships record each real change (RETURNING says which) with
 * the history subscriber, in the same transaction, so no path can change a membership without
 * its history entry.
 */
@Injectable()
export class MembershipsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly history: HistorySubscriber,
    private readonly statistics: TableStatistics,
    private readonly deployment: Deployment,
  ) {}

  /** Live segments of each user (absent: none), sorted by slug. */
  async usersSegments(manager: EntityManager, userIds: readonly number[]): Promise<Map<number, UserSegment[]>> {
    const rows = await queryRows<UserSegment & { userId: number }>(manager, USERS_SEGMENTS, [userIds]);
    const byUser = new Map<number, UserSegment[]>();
    for (const { userId, slug, expiresAt, source } of rows) {
      // Field by field: an object rest copy is a generic property copy, per row of the hot read.
      const segment: UserSegment = { slug, expiresAt, source };
      const list = byUser.get(userId);
      if (list) list.push(segment);
      else byUser.set(userId, [segment]);
    }
    return byUser;
  }

  segmentMembers(segmentId: number, afterUserId: number, limit: number): Promise<SegmentMember[]> {
    return queryRows<SegmentMember>(this.dataSource.manager, SEGMENT_MEMBERS, [segmentId, afterUserId, limit]);
  }

  async countMembers(segmentId: number): Promise<number> {
    const [row] = await queryRows<{ count: number }>(this.dataSource.manager, COUNT_MEMBERS, [segmentId]);
    return row!.count;
  }

  /**
   * Removes `removals` (recording opt-outs); ends the opt-outs of `others`, the other pairs the
   * change touches (its adds, none of them a removal), and removes their expired memberships.
   * Returns what was removed; removals are logged with `reason` and the actor of their user's
   * change, expired ones as their `ttl` removal.
   */
  async removeAndOptOut(
    manager: EntityManager,
    { removals, others }: { removals: readonly MembershipKey[]; others: readonly MembershipKey[] },
    slugOf: ReadonlyMap<number, string>,
    reason: HistoryReason,
    actorOf: (userId: number) => string,
  ): Promise<RemovedMembership[]> {
    const rows = await queryRows<RemovedMembership>(manager, REMOVE_AND_OPT_OUT, [
      removals.map((item) => item.userId),
      removals.map((item) => item.segmentId),
      others.map((item) => item.userId),
      others.map((item) => item.segmentId),
    ]);
    this.record(
      manager,
      rows.map((row) => removalChange(row, slugOf.get(row.segmentId)!, reason, actorOf(row.userId))),
    );
    return rows;
  }

  /** Applies manual adds after removeAndOptOut, each by its user's actor; returns the memberships that were really added (not just given a new expiry). */
  async upsertManual(
    manager: EntityManager,
    adds: readonly ManualAdd[],
    slugOf: ReadonlyMap<number, string>,
    actorOf: (userId: number) => string,
  ): Promise<MembershipKey[]> {
    // A time to live counts from the database clock, read here: Citus refuses it inside the statement (in a coalesce).
    const now = adds.some((add) => add.ttlSeconds !== undefined) ? (await queryRows<{ now: Date }>(manager, NOW))[0]!.now.getTime() : 0;
    const rows = await queryRows<MembershipKey & { inserted: boolean }>(manager, UPSERT_MANUAL, [
      adds.map((add) => add.userId),
      adds.map((add) => add.segmentId),
      adds.map((add) => add.expiresAt ?? (add.ttlSeconds === undefined ? null : new Date(now + add.ttlSeconds * 1000))),
    ]);
    const added = rows.filter((row) => row.inserted);
    this.recordAdds(manager, added, slugOf, 'manual', actorOf);
    return added;
  }

  /** Gives newly registered users the automatic segments they qualify for. */
  async assignAuto(manager: EntityManager, userIds: readonly number[], segments: readonly AutoSegment[]): Promise<void> {
    if (userIds.length === 0 || segments.length === 0) return;
    const rows = await queryRows<MembershipKey>(manager, ASSIGN_AUTO, [
      userIds,
      segments.map((segment) => segment.id),
      segments.map((segment) => segment.threshold),
    ]);
    this.recordAdds(manager, rows, new Map(segments.map((segment) => [segment.id, segment.slug])), 'auto', () => AUTOMATIC_ACTOR);
  }

  /** Locks the users in (after, last] whose membership the rollout must change, and returns them: to add, to remove. */
  async lockRolloutCandidates(manager: EntityManager, rollout: RolloutRow, after: number, last: number): Promise<RolloutCandidates> {
    const rows = await queryRows<{ userId: number; add: boolean }>(manager, LOCK_ROLLOUT_CANDIDATES[this.deployment.kind], [
      rollout.id,
      after,
      last,
      rollout.threshold,
    ]);
    const candidates: RolloutCandidates = { add: [], remove: [] };
    for (const row of rows) candidates[row.add ? 'add' : 'remove'].push(row.userId);
    return candidates;
  }

  /** Applies a rollout to its candidates, which the caller has locked; returns how many memberships came and went. */
  async applyRollout(
    manager: EntityManager,
    rollout: RolloutRow,
    candidates: RolloutCandidates,
  ): Promise<{ added: number; removed: number }> {
    const added =
      candidates.add.length > 0
        ? await queryRows<{ userId: number }>(manager, ROLLOUT_ADD, [rollout.id, candidates.add, rollout.threshold])
        : [];
    const removed =
      candidates.remove.length > 0
        ? await queryRows<{ userId: number }>(manager, ROLLOUT_REMOVE, [rollout.id, candidates.remove, rollout.threshold])
        : [];
    const change = (operation: HistoryOperation) => (row: { userId: number }) => ({
      userId: row.userId,
      segmentId: rollout.id,
      slug: rollout.slug,
      operation,
      reason: 'auto' as const,
      actor: AUTOMATIC_ACTOR,
    });
    this.record(manager, [...added.map(change('add')), ...removed.map(change('remove'))]);
    return { added: added.length, removed: removed.length };
  }

  /** Users that have memberships due for removal (with repeats), at most `limit` rows. */
  async dueUsers(manager: EntityManager, limit: number): Promise<number[]> {
    return (await queryRows<{ userId: number }>(manager, DUE_USERS, [limit])).map((row) => row.userId);
  }

  /** Removes the expired memberships of users the caller has locked (automatic segments take back the users they select); returns how many. */
  async deleteExpired(manager: EntityManager, userIds: readonly number[]): Promise<number> {
    if (userIds.length === 0) return 0;
    const rows = await queryRows<RemovedMembership & { slug: string }>(manager, DELETE_EXPIRED, [userIds]);
    this.record(
      manager,
      rows.map((row) => removalChange(row, row.slug, 'ttl', EXPIRY_ACTOR)),
    );
    if (rows.length > 0) {
      const regranted = await queryRows<MembershipKey>(manager, REGRANT_AUTO, [
        rows.map((row) => row.userId),
        rows.map((row) => row.segmentId),
      ]);
      this.recordAdds(manager, regranted, new Map(rows.map((row) => [row.segmentId, row.slug])), 'auto', () => AUTOMATIC_ACTOR);
    }
    return rows.length;
  }

  /** Removes up to `limit` memberships of a deleted segment, logged as removals by whoever deleted it; returns how many. */
  async purgeBatch(manager: EntityManager, segment: DeletedSegment, limit: number): Promise<number> {
    const rows = await queryRows<RemovedMembership>(manager, PURGE_BATCH, [segment.id, limit]);
    this.record(
      manager,
      rows.map((row) => removalChange(row, segment.slug, 'segment_deleted', segment.deletedBy)),
    );
    return rows.length;
  }

  async hasMembers(manager: EntityManager, segmentId: number): Promise<boolean> {
    const [row] = await queryRows<{ any: boolean }>(manager, HAS_MEMBERS, [segmentId]);
    return row!.any;
  }

  async deleteOptOuts(manager: EntityManager, segmentId: number): Promise<void> {
    await queryRows(manager, DELETE_OPT_OUTS, [segmentId]);
  }

  /** Every change a statement made: its history entry, and a count towards the table's statistics. */
  private record(manager: EntityManager, changes: MembershipChange[]): void {
    this.history.record(manager, changes);
    this.statistics.changed(manager, 'memberships', changes.length);
  }

  private recordAdds(
    manager: EntityManager,
    rows: readonly MembershipKey[],
    slugOf: ReadonlyMap<number, string>,
    reason: HistoryReason,
    actorOf: (userId: number) => string,
  ) {
    this.record(
      manager,
      rows.map((row) => ({
        userId: row.userId,
        segmentId: row.segmentId,
        slug: slugOf.get(row.segmentId)!,
        operation: 'add',
        reason,
        actor: actorOf(row.userId),
      })),
    );
  }
}
