import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { decodeCursor, ProblemException } from '#libs/common';
import { queryRows } from '#libs/database';
import { JobsProducer } from '#libs/queue';
import { DataSource, MoreThan, type EntityManager, type Repository } from 'typeorm';
import { SegmentEntity } from './segment.entity.js';

export interface NewSegment {
  slug: string;
  description?: string | null;
  autoPercent?: number | null;
}

export interface SegmentChange {
  description?: string | null;
  /** Any value given (even the current one) starts a new rollout. */
  autoPercent?: number | null;
}

/** An active segment as membership changes refer to it. */
export interface SegmentRef {
  id: number;
  slug: string;
}

/** An active segment with automatic assignment, and its threshold in buckets (auto_percent × 100). */
export interface AutoSegment extends SegmentRef {
  threshold: number;
}

/** The rollout of a segment, read and locked inside a rollout chunk. */
export interface RolloutRow extends AutoSegment {
  state: SegmentEntity['rolloutState'];
  version: number;
  cursor: number;
  processed: number;
}

/** auto_percent (two decimals) as a bucket threshold: a user is in when bucket < threshold. */
export const thresholdOf = (autoPercent: number | null) => Math.round((autoPercent ?? 0) * 100);

/**
 * The segment catalogue: create, read, change and (soft) delete segments, and the state of
 * their background work (rollouts, purges), which lives on the segment row.
 */
@Injectable()
export class SegmentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(SegmentEntity) private readonly segments: Repository<SegmentEntity>,
    private readonly jobs: JobsProducer,
  ) {}

  /** `requestId`, here and below: the request that asked, remembered by the jobs it causes. */
  async create(segment: NewSegment, requestId?: string): Promise<SegmentEntity> {
    const auto = segment.autoPercent !== undefined && segment.autoPercent !== null;
    // ON CONFLICT DO NOTHING against the partial unique index: a taken slug is an answer, not a failed statement.
    const result = await this.segments
      .createQueryBuilder()
      .insert()
      .values({
        slug: segment.slug,
        description: segment.description ?? null,
        autoPercent: segment.autoPercent ?? null,
        rolloutState: auto ? 'pending' : null,
        rolloutVersion: auto ? 1 : 0,
      })
      .orIgnore()
      .execute();
    const [inserted] = result.raw as { id: number }[];
    if (!inserted) throw ProblemException.conflict(`An active segment with slug "${segment.slug}" already exists`);
    const created = await this.segments.findOneByOrFail({ id: inserted.id });
    if (auto) await this.jobs.rollout({ segmentId: created.id, version: created.rolloutVersion, requestId });
    return created;
  }

  /** Active segments ordered by slug, `limit + 1` rows so the caller can tell whether a next page exists. */
  async list(limit: number, cursor?: string): Promise<SegmentEntity[]> {
    const after = cursor === undefined ? undefined : decodeCursor<string>(cursor, 'string');
    return this.segments.find({
      where: after === undefined ? {} : { slug: MoreThan(after) },
      order: { slug: 'ASC' },
      take: limit + 1,
    });
  }

  async getBySlug(slug: string): Promise<SegmentEntity> {
    const segment = await this.segments.findOneBy({ slug });
    if (!segment) throw ProblemException.notFound(`Segment "${slug}"`);
    return segment;
  }

  /** Changes the description and/or auto_percent; a new auto_percent restarts the rollout from the first user. */
  async update(slug: string, change: SegmentChange, requestId?: string): Promise<SegmentEntity> {
    const updated = await this.dataSource.transaction(async (manager) => {
      const segment = await this.lockActive(manager, slug);
      if (change.description !== undefined) segment.description = change.description;
      if (change.autoPercent !== undefined) {
        Object.assign(segment, {
          autoPercent: change.autoPercent,
          rolloutState: 'pending',
          rolloutVersion: segment.rolloutVersion + 1,
          rolloutCursor: 0,
          rolloutProcessed: 0,
          rolloutTotal: null,
          rolloutError: null,
        } satisfies Partial<SegmentEntity>);
      }
      return manager.save(segment);
    });
    if (change.autoPercent !== undefined) await this.jobs.rollout({ segmentId: updated.id, version: updated.rolloutVersion, requestId });
    return updated;
  }

  /**
   * Marks the segment deleted: it disappears from every read at once and its slug is free
   * again; a purge job removes its memberships. Waits for membership changes holding the
   * segment (they lock it FOR KEY SHARE), so none of them adds a member after this returns.
   */
  async delete(slug: string, requestId?: string): Promise<SegmentEntity> {
    const deleted = await this.dataSource.transaction(async (manager) => {
      const segment = await this.lockActive(manager, slug);
      segment.deletedAt = new Date();
      return manager.save(segment);
    });
    await this.jobs.purge({ segmentId: deleted.id, requestId });
    return deleted;
  }

  /**
   * Resolves slugs to active segments inside a membership change, locking each FOR KEY
   * SHARE so that a concurrent delete waits for the change to commit. Unknown slugs are
   * simply absent from the result.
   */
  async resolveActive(manager: EntityManager, slugs: string[]): Promise<Map<string, SegmentRef>> {
    if (slugs.length === 0) return new Map();
    const rows = await queryRows<SegmentRef>(
      manager,
      'SELECT id, slug FROM segments WHERE slug = ANY($1::varchar[]) AND deleted_at IS NULL ORDER BY id FOR KEY SHARE',
      [slugs],
    );
    return new Map(rows.map((row) => [row.slug, row]));
  }

  /** Active segments with a positive auto_percent, locked FOR KEY SHARE like resolveActive. */
  async lockAutoSegments(manager: EntityManager): Promise<AutoSegment[]> {
    const rows = await queryRows<SegmentRef & { auto_percent: string }>(
      manager,
      'SELECT id, slug, auto_percent FROM segments WHERE auto_percent > 0 AND deleted_at IS NULL ORDER BY id FOR KEY SHARE',
    );
    return rows.map((row) => ({ id: row.id, slug: row.slug, threshold: thresholdOf(Number(row.auto_percent)) }));
  }

  /**
   * Locks the rollout of an active segment for one chunk (FOR NO KEY UPDATE: concurrent
   * chunks of the same rollout queue up, membership changes do not wait). Null when deleted.
   */
  async lockRollout(manager: EntityManager, segmentId: number): Promise<RolloutRow | null> {
    const [row] = await queryRows<{
      id: number;
      slug: string;
      auto_percent: string | null;
      rollout_state: RolloutRow['state'];
      rollout_version: number;
      rollout_cursor: number;
      rollout_processed: number;
    }>(
      manager,
      `SELECT id, slug, auto_percent, rollout_state, rollout_version, rollout_cursor, rollout_processed
       FROM segments WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`,
      [segmentId],
    );
    if (!row) return null;
    return {
      id: row.id,
      slug: row.slug,
      threshold: thresholdOf(row.auto_percent === null ? null : Number(row.auto_percent)),
      state: row.rollout_state,
      version: row.rollout_version,
      cursor: row.rollout_cursor,
      processed: row.rollout_processed,
    };
  }

  /** Records a rollout chunk's progress (same transaction as the chunk's changes). */
  async advanceRollout(
    manager: EntityManager,
    segmentId: number,
    progress: { state: 'running' | 'done'; cursor: number; processed: number; total?: number },
  ): Promise<void> {
    await manager.query(
      `UPDATE segments SET rollout_state = $2, rollout_cursor = $3, rollout_processed = $4, rollout_total = coalesce($5, rollout_total)
       WHERE id = $1`,
      [segmentId, progress.state, progress.cursor, progress.processed, progress.total ?? null],
    );
  }

  /** Marks a rollout failed once its job has used up its attempts (unless a newer rollout replaced it). */
  async failRollout(segmentId: number, version: number, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE segments SET rollout_state = 'failed', rollout_error = $3
       WHERE id = $1 AND rollout_version = $2 AND rollout_state IN ('pending', 'running')`,
      [segmentId, version, error.slice(0, 1000)],
    );
  }

  async finishPurge(manager: EntityManager, segmentId: number): Promise<void> {
    await manager.query('UPDATE segments SET purged_at = now() WHERE id = $1', [segmentId]);
  }

  /** Background work PostgreSQL says is unfinished: what the reconciler (re)enqueues. */
  async unfinishedWork(): Promise<{ rollouts: { segmentId: number; version: number }[]; purges: number[] }> {
    const rollouts = await queryRows<{ segmentId: number; version: number }>(
      this.dataSource.manager,
      `SELECT id AS "segmentId", rollout_version AS version FROM segments
       WHERE rollout_state IN ('pending', 'running') AND deleted_at IS NULL ORDER BY id`,
    );
    const purges = await queryRows<{ id: number }>(
      this.dataSource.manager,
      'SELECT id FROM segments WHERE deleted_at IS NOT NULL AND purged_at IS NULL ORDER BY id',
    );
    return { rollouts, purges: purges.map((row) => row.id) };
  }

  private async lockActive(manager: EntityManager, slug: string): Promise<SegmentEntity> {
    const segment = await manager.findOne(SegmentEntity, { where: { slug }, lock: { mode: 'pessimistic_write' } });
    if (!segment) throw ProblemException.notFound(`Segment "${slug}"`);
    return segment;
  }
}
