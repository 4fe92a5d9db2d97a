import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ConflictError, decodeCursor, NotFoundError, type Caller } from '#libs/common';
import { JobsProducer } from '#libs/queue';
import { DataSource } from 'typeorm';
import { isSlug } from './slug.js';
import type { Segment } from './segment.entity.js';
import type { NewSegment, SegmentChange } from './segment.types.js';
import { SegmentsRepository } from './segments.repository.js';

/** Position in the slug-ordered list of segments, as a cursor holds it. */
export const segmentCursorKey = (segment: Segment): [string] => [segment.slug];
const parseSegmentCursor = (values: unknown[]) => (values.length === 1 && isSlug(values[0]) ? values[0] : undefined);

/**
 * The segment catalogue: create, read, change and (soft) delete segments. Creating a segment
 * with auto_percent, or changing it, starts a rollout job; deleting one starts a purge job.
 */
@Injectable()
export class SegmentsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly segments: SegmentsRepository,
    private readonly jobs: JobsProducer,
  ) {}

  /** `caller`, here and below: who asked; the jobs it causes remember its request id. */
  async create(segment: NewSegment, caller: Caller): Promise<Segment> {
    const created = await this.segments.insert(segment);
    if (!created) throw new ConflictError(`An active segment with slug "${segment.slug}" already exists`);
    if (created.rolloutState !== null) {
      await this.jobs.rollout({ segmentId: created.id, version: created.rolloutVersion, requestId: caller.requestId });
    }
    return created;
  }

  /** Active segments ordered by slug, `limit + 1` rows so the caller can tell whether a next page exists. */
  list(limit: number, cursor?: string): Promise<Segment[]> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, parseSegmentCursor);
    return this.segments.list(limit + 1, after);
  }

  async getBySlug(slug: string): Promise<Segment> {
    const segment = await this.segments.findActive(slug);
    if (!segment) throw segmentNotFound(slug);
    return segment;
  }

  /** Changes the description and/or auto_percent; a new auto_percent restarts the rollout from the first user. */
  async update(slug: string, change: SegmentChange, caller: Caller): Promise<Segment> {
    const updated = await this.dataSource.transaction(async (manager) => {
      const segment = await this.segments.lockActive(manager, slug);
      if (!segment) throw segmentNotFound(slug);
      return this.segments.update(manager, segment.id, change);
    });
    if (change.autoPercent !== undefined) {
      await this.jobs.rollout({ segmentId: updated.id, version: updated.rolloutVersion, requestId: caller.requestId });
    }
    return updated;
  }

  /**
   * Marks the segment deleted: it disappears from every read at once and its slug is free
   * again; a purge job removes its memberships, logged as removals by the caller. Waits for
   * membership changes holding the segment (they share its lock, see SEGMENT_LOCKS), so none of them adds
   * a member after this returns.
   */
  async delete(slug: string, caller: Caller): Promise<Segment> {
    const deleted = await this.dataSource.transaction(async (manager) => {
      const segment = await this.segments.lockActive(manager, slug);
      if (!segment) throw segmentNotFound(slug);
      return this.segments.softDelete(manager, segment.id, caller.actor);
    });
    await this.jobs.purge({ segmentId: deleted.id, requestId: caller.requestId });
    return deleted;
  }
}

export function segmentNotFound(slug: string): NotFoundError {
  return new NotFoundError(`Segment "${slug}"`);
}
