import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { DeletedSegment, RolloutProgress, RolloutRow } from './segment.types.js';
import { SegmentsRepository } from './segments.repository.js';

/**
 * The background work of segments as the memberships and jobs modules drive it: a rollout's and
 * a purge's state, locked and advanced chunk by chunk in the caller's transaction, their failure,
 * and what is left unfinished (for the reconciler and the metrics).
 */
@Injectable()
export class SegmentJobsService {
  constructor(private readonly segments: SegmentsRepository) {}

  /** The rollout of an active segment for one chunk (chunks take turns, the segment is held); null once deleted. */
  lockRollout(manager: EntityManager, segmentId: number): Promise<RolloutRow | null> {
    return this.segments.lockRollout(manager, segmentId);
  }

  advanceRollout(manager: EntityManager, segmentId: number, progress: RolloutProgress): Promise<void> {
    return this.segments.advanceRollout(manager, segmentId, progress);
  }

  /** Marks this version of the rollout failed, unless it finished or was restarted meanwhile. */
  failRollout(segmentId: number, version: number, error: string): Promise<void> {
    return this.segments.failRollout(segmentId, version, error);
  }

  /** The deleted, not yet purged segment for one purge batch (batches take turns); null when there is nothing to purge. */
  lockPurge(manager: EntityManager, segmentId: number): Promise<DeletedSegment | null> {
    return this.segments.lockPurge(manager, segmentId);
  }

  finishPurge(manager: EntityManager, segmentId: number): Promise<void> {
    return this.segments.finishPurge(manager, segmentId);
  }

  /** Background work PostgreSQL says is unfinished: what the reconciler (re)enqueues. */
  unfinishedWork(): Promise<{ rollouts: { segmentId: number; version: number }[]; purges: number[] }> {
    return this.segments.unfinishedWork();
  }

  /** Active segments, and deleted ones still being purged. */
  stateCounts(): Promise<{ active: number; purging: number }> {
    return this.segments.stateCounts();
  }

  /** Share of users processed by each unfinished rollout, by slug. */
  rolloutRatios(): Promise<{ slug: string; ratio: number }[]> {
    return this.segments.rolloutRatios();
  }
}
