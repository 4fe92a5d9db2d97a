import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { SegmentJobsService } from '#libs/segments';
import { DataSource } from 'typeorm';
import { MembershipsRepository } from './memberships.repository.js';

/**
 * Removes the memberships of a deleted segment in batches, each a transaction with its
 * history (reason `segment_deleted`; a membership that had already expired is logged as its
 * `ttl` removal at its expiry instant). Batches of one segment take turns (they lock its
 * row), and the purge is finished only when no member is left, so a rerun or a duplicate
 * job can neither repeat a change nor stop early.
 */
@Injectable()
export class SegmentPurgeService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly segments: SegmentJobsService,
    private readonly memberships: MembershipsRepository,
    private readonly config: AppConfig,
  ) {}

  /** Returns true when the segment is fully purged, false when asked to stop first. */
  async run(segmentId: number, shouldStop: () => boolean = () => false): Promise<boolean> {
    for (;;) {
      if (await this.batch(segmentId)) return true;
      if (shouldStop()) return false;
    }
  }

  private batch(segmentId: number): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const segment = await this.segments.lockPurge(manager, segmentId);
      if (!segment) return true;
      const removed = await this.memberships.purgeBatch(manager, segment, this.config.JOB_BATCH_SIZE);
      if (removed === this.config.JOB_BATCH_SIZE || (await this.memberships.hasMembers(manager, segmentId))) return false;
      await this.memberships.deleteOptOuts(manager, segmentId);
      await this.segments.finishPurge(manager, segmentId);
      return true;
    });
  }
}
