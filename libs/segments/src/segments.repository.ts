import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { oneConnectionPerNode, queryRows, TableStatistics } from '#libs/database';
import { DataSource, MoreThan, Repository, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { thresholdOf } from './bucket.js';
import { Segment } from './segment.entity.js';
import { activeSegment, purgingSegment } from './segment.sql.js';
import type { AutoSegment, DeletedSegment, NewSegment, RolloutProgress, RolloutRow, SegmentChange, SegmentRef } from './segment.types.js';

/**
 * A segment's lock, taken on the node the service talks to (an advisory lock, keyed by the
 * slug's hash): membership changes of the segment share it, so none of them waits for another;
 * a change or deletion of the segment takes it alone, so it waits for the changes in flight and
 * none starts meanwhile. Not a row lock: on Citus, the segments table is copied to every node,
 * and row locks on it serialised every writer of the cluster (and deadlocked across nodes).
 */
const SEGMENT_LOCKS = 718024510;
const HOLD_SEGMENTS = `SELECT pg_advisory_xact_lock_shared(${SEGMENT_LOCKS}, hashtext(slug)) FROM unnest($1::varchar[]) AS slug`;
const LOCK_SEGMENT = `SELECT pg_advisory_xact_lock(${SEGMENT_LOCKS}, hashtext($1::varchar))`;

/** Chunks of one rollout, and batches of one purge, take turns (duplicated or retried jobs run side by side). */
const ROLLOUT_LOCKS = 718024511;
const PURGE_LOCKS = 718024512;
const LOCK_JOB = 'SELECT pg_advisory_xact_lock($1::int, $2::int)';

const RESOLVE_ACTIVE = `SELECT id, slug FROM segments WHERE slug = ANY($1::varchar[]) AND ${activeSegment('segments')}`;

const SLUG_OF = 'SELECT slug FROM segments WHERE id = $1';

const RESOLVE_ACTIVE_ID = `SELECT id, slug FROM segments WHERE id = $1 AND ${activeSegment('segments')}`;

const AUTO_SEGMENTS = `
  SELECT id, slug, auto_percent::float8 AS "autoPercent" FROM segments
  WHERE auto_percent > 0 AND ${activeSegment('segments')} ORDER BY id`;

/** The rollout of an active segment, read under its locks (see lockRollout). */
const ROLLOUT = `
  SELECT id, slug, auto_percent::float8 AS "autoPercent", rollout_state AS state, rollout_version AS version,
         rollout_cursor AS cursor, rollout_processed AS processed, rollout_total AS total
  FROM segments WHERE id = $1 AND ${activeSegment('segments')}`;

/** `processed` never reads above `total`: users registered during the rollout raise the total they are counted in. */
const ADVANCE_ROLLOUT = `
  UPDATE segments SET rollout_state = $2::varchar, rollout_cursor = $3, rollout_processed = $4::bigint,
    rollout_total = CASE WHEN $2::varchar = 'done' THEN $4::bigint ELSE greatest(coalesce($5::bigint, rollout_total), $4::bigint) END
  WHERE id = $1`;

const FAIL_ROLLOUT = `
  UPDATE segments SET rollout_state = 'failed', rollout_error = $3
  WHERE id = $1 AND rollout_version = $2 AND rollout_state IN ('pending', 'running')`;

/** A deleted segment whose memberships are not all removed yet. */
const PURGING = `
  SELECT id, slug, coalesce(deleted_by, '') AS "deletedBy" FROM segments
  WHERE id = $1 AND ${purgingSegment('segments')}`;

const FINISH_PURGE = 'UPDATE segments SET purged_at = now() WHERE id = $1';

const UNFINISHED_ROLLOUTS = `
  SELECT id AS "segmentId", rollout_version AS version FROM segments
  WHERE rollout_state IN ('pending', 'running') AND ${activeSegment('segments')} ORDER BY id`;

const UNFINISHED_PURGES = `SELECT id FROM segments WHERE ${purgingSegment('segments')} ORDER BY id`;

const STATE_COUNTS = `
  SELECT count(*) FILTER (WHERE ${activeSegment('segments')}) AS active,
         count(*) FILTER (WHERE ${purgingSegment('segments')}) AS purging
  FROM segments`;

const ROLLOUT_RATIOS = `
  SELECT slug, CASE WHEN coalesce(rollout_total, 0) = 0 THEN 0 ELSE least(1, rollout_processed::float8 / rollout_total) END AS ratio
  FROM segments WHERE rollout_state IN ('pending', 'running') AND ${activeSegment('segments')}`;

/**
 * Every statement on the `segments` table. The catalogue's CRUD goes through the entity; the
 * statements the membership paths and jobs run on every write (resolve and lock segments,
 * rollout and purge progress) are hand-written, with the locks they need. Methods that take a
 * manager run in the caller's transaction; the others run on the pool.
 */
@Injectable()
export class SegmentsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Segment) private readonly segments: Repository<Segment>,
    private readonly statistics: TableStatistics,
  ) {}

  /** The new segment, or null when an active segment has the slug already. */
  async insert(segment: NewSegment): Promise<Segment | null> {
    const automatic = segment.autoPercent !== undefined && segment.autoPercent !== null;
    const row = this.segments.create({
      slug: segment.slug,
      description: segment.description ?? null,
      autoPercent: segment.autoPercent ?? null,
      rolloutState: automatic ? 'pending' : null,
      rolloutVersion: automatic ? 1 : 0,
    });
    // The slug is unique among active segments (a partial index): a taken one inserts nothing.
    const result = await this.segments.createQueryBuilder().insert().values(row).orIgnore().execute();
    if ((result.raw as unknown[]).length === 0) return null;
    this.statistics.changed(this.dataSource.manager, 'segments', 1);
    return row;
  }

  /** Active segments ordered by slug after `after`, at most `limit`. */
  list(limit: number, after?: string): Promise<Segment[]> {
    return this.segments.find({ where: after === undefined ? {} : { slug: MoreThan(after) }, order: { slug: 'ASC' }, take: limit });
  }

  findActive(slug: string): Promise<Segment | null> {
    return this.segments.findOneBy({ slug });
  }

  /** The active segment, with its lock alone (see SEGMENT_LOCKS): against concurrent changes, deletes and membership changes. */
  async lockActive(manager: EntityManager, slug: string): Promise<Segment | null> {
    await queryRows(manager, LOCK_SEGMENT, [slug]);
    return manager.getRepository(Segment).findOneBy({ slug });
  }

  /** A new auto_percent (any value given) restarts the rollout from the first user, under a new version. */
  async update(manager: EntityManager, id: number, change: SegmentChange): Promise<Segment> {
    const repository = manager.getRepository(Segment);
    const set: QueryDeepPartialEntity<Segment> = {};
    if (change.description !== undefined) set.description = change.description;
    if (change.autoPercent !== undefined) {
      Object.assign(set, {
        autoPercent: change.autoPercent,
        rolloutState: 'pending',
        rolloutVersion: () => 'rollout_version + 1',
        rolloutCursor: 0,
        rolloutProcessed: 0,
        rolloutTotal: null,
        rolloutError: null,
      });
    }
    await repository.update(id, set);
    return repository.findOneByOrFail({ id });
  }

  /**
   * Deletion time comes from the database clock, like every instant that orders history, read
   * once the caller holds the segment's lock (the statement's start): every membership a change
   * added before it is older.
   */
  async softDelete(manager: EntityManager, id: number, actor: string): Promise<Segment> {
    const repository = manager.getRepository(Segment);
    await repository.update(id, { deletedAt: () => 'statement_timestamp()', deletedBy: actor });
    this.statistics.changed(manager, 'segments', 1);
    return repository.findOneOrFail({ where: { id }, withDeleted: true });
  }

  /**
   * Active segments among `slugs`, each held (its lock shared, see SEGMENT_LOCKS) for the rest of
   * the transaction; unknown slugs are absent. Read after the locks: a segment deleted while this
   * waited is not active any more.
   */
  async resolveActive(manager: EntityManager, slugs: readonly string[]): Promise<Map<string, SegmentRef>> {
    if (slugs.length === 0) return new Map();
    await queryRows(manager, HOLD_SEGMENTS, [slugs]);
    const rows = await queryRows<SegmentRef>(manager, RESOLVE_ACTIVE, [slugs]);
    return new Map(rows.map((row) => [row.slug, row]));
  }

  /** The active segment with this id, held like resolveActive; null once deleted. */
  async resolveActiveById(manager: EntityManager, id: number): Promise<SegmentRef | null> {
    const [segment] = await queryRows<{ slug: string }>(manager, SLUG_OF, [id]);
    if (!segment) return null;
    await queryRows(manager, HOLD_SEGMENTS, [[segment.slug]]);
    const [row] = await queryRows<SegmentRef>(manager, RESOLVE_ACTIVE_ID, [id]);
    return row ?? null;
  }

  /** Active segments with a positive auto_percent, held like resolveActive (read again after the locks). */
  async lockAutoSegments(manager: EntityManager): Promise<AutoSegment[]> {
    const candidates = await queryRows<SegmentRef>(manager, AUTO_SEGMENTS);
    if (candidates.length === 0) return [];
    await queryRows(manager, HOLD_SEGMENTS, [candidates.map((segment) => segment.slug)]);
    const rows = await queryRows<SegmentRef & { autoPercent: number }>(manager, AUTO_SEGMENTS);
    return rows.map((row) => ({ id: row.id, slug: row.slug, threshold: thresholdOf(row.autoPercent) }));
  }

  /**
   * The rollout of an active segment for one chunk: chunks of the rollout take turns, and the
   * segment is held like resolveActive (the chunk changes memberships); null once it is deleted.
   */
  async lockRollout(manager: EntityManager, segmentId: number): Promise<RolloutRow | null> {
    // A chunk records its progress in the (reference) segments table after statements over every shard.
    await oneConnectionPerNode(manager);
    await queryRows(manager, LOCK_JOB, [ROLLOUT_LOCKS, segmentId]);
    const [segment] = await queryRows<{ slug: string }>(manager, SLUG_OF, [segmentId]);
    if (!segment) return null;
    await queryRows(manager, HOLD_SEGMENTS, [[segment.slug]]);
    const [row] = await queryRows<Omit<RolloutRow, 'threshold'> & { autoPercent: number | null }>(manager, ROLLOUT, [segmentId]);
    if (!row) return null;
    const { autoPercent, ...rollout } = row;
    return { ...rollout, threshold: thresholdOf(autoPercent) };
  }

  async advanceRollout(manager: EntityManager, segmentId: number, progress: RolloutProgress): Promise<void> {
    await queryRows(manager, ADVANCE_ROLLOUT, [segmentId, progress.state, progress.cursor, progress.processed, progress.total ?? null]);
  }

  async failRollout(segmentId: number, version: number, error: string): Promise<void> {
    await queryRows(this.dataSource.manager, FAIL_ROLLOUT, [segmentId, version, error.slice(0, 1000)]);
  }

  /** The deleted, not yet purged segment for one purge batch (batches of it take turns); null when there is nothing to purge. */
  async lockPurge(manager: EntityManager, segmentId: number): Promise<DeletedSegment | null> {
    // The last batch marks the segment purged after statements over every shard.
    await oneConnectionPerNode(manager);
    await queryRows(manager, LOCK_JOB, [PURGE_LOCKS, segmentId]);
    const [row] = await queryRows<DeletedSegment>(manager, PURGING, [segmentId]);
    return row ?? null;
  }

  async finishPurge(manager: EntityManager, segmentId: number): Promise<void> {
    await queryRows(manager, FINISH_PURGE, [segmentId]);
  }

  /** Background work PostgreSQL says is unfinished: what the reconciler (re)enqueues. */
  async unfinishedWork(): Promise<{ rollouts: { segmentId: number; version: number }[]; purges: number[] }> {
    const rollouts = await queryRows<{ segmentId: number; version: number }>(this.dataSource.manager, UNFINISHED_ROLLOUTS);
    const purges = await queryRows<{ id: number }>(this.dataSource.manager, UNFINISHED_PURGES);
    return { rollouts, purges: purges.map((row) => row.id) };
  }

  async stateCounts(): Promise<{ active: number; purging: number }> {
    const [row] = await queryRows<{ active: number; purging: number }>(this.dataSource.manager, STATE_COUNTS);
    return row!;
  }

  /** Share of users processed by each unfinished rollout, by slug. */
  rolloutRatios(): Promise<{ slug: string; ratio: number }[]> {
    return queryRows(this.dataSource.manager, ROLLOUT_RATIOS);
  }
}
