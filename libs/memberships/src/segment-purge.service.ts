import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { queryRows } from '#libs/database';
import { HistorySubscriber } from '#libs/history';
import { SegmentsService } from '#libs/segments';
import { DataSource } from 'typeorm';

/**
 * Removes the memberships of a deleted segment in batches, each a transaction with its
 * history (reason `segment_deleted`; a membership that had already expired is logged as its
 * `ttl` removal at its expiry instant). Idempotent: a rerun continues with what is left.
 */
@Injectable()
export class SegmentPurgeService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly segments: SegmentsService,
    private readonly history: HistorySubscriber,
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
      const removed = await queryRows<{ user_id: number; slug: string; expires_at: Date | null; expired: boolean }>(
        manager,
        `DELETE FROM memberships m USING segments s
         WHERE m.segment_id = $1 AND s.id = m.segment_id AND s.deleted_at IS NOT NULL
           AND m.user_id IN (SELECT user_id FROM memberships WHERE segment_id = $1 ORDER BY user_id LIMIT $2)
         RETURNING m.user_id, s.slug, m.expires_at, coalesce(m.expires_at <= now(), false) AS expired`,
        [segmentId, this.config.JOB_BATCH_SIZE],
      );
      this.history.record(
        manager,
        removed.map((row) => ({
          userId: row.user_id,
          segmentId,
          slug: row.slug,
          operation: 'remove',
          reason: row.expired ? 'ttl' : 'segment_deleted',
          occurredAt: row.expired ? row.expires_at! : undefined,
        })),
      );
      if (removed.length === this.config.JOB_BATCH_SIZE) return false;
      await manager.query('DELETE FROM segment_opt_outs WHERE segment_id = $1', [segmentId]);
      await this.segments.finishPurge(manager, segmentId);
      return true;
    });
  }
}
