import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { queryRows } from '#libs/database';
import { HistorySubscriber, type HistoryOperation } from '#libs/history';
import { SegmentsService } from '#libs/segments';
import { DataSource } from 'typeorm';

/** How a rollout run ended: finished, replaced by a newer rollout (or the segment was deleted), or asked to stop. */
export type RolloutOutcome = 'done' | 'stale' | 'interrupted';

/**
 * Percent rollouts (SPEC §5): walks the registered users in id order, chunk by chunk, and
 * makes each chunk match the rule "auto member ⇔ bucket < threshold and not opted out".
 * Each chunk is one transaction that also advances the rollout's cursor, so a retried,
 * duplicated or restarted job continues where the last committed chunk ended and never
 * applies a change twice. Manual memberships are never touched.
 */
@Injectable()
export class MembershipRolloutService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly segments: SegmentsService,
    private readonly history: HistorySubscriber,
    private readonly config: AppConfig,
  ) {}

  async run(segmentId: number, version: number, shouldStop: () => boolean = () => false): Promise<RolloutOutcome> {
    for (;;) {
      const outcome = await this.chunk(segmentId, version);
      if (outcome !== 'continue') return outcome;
      if (shouldStop()) return 'interrupted';
    }
  }

  private chunk(segmentId: number, version: number): Promise<RolloutOutcome | 'continue'> {
    return this.dataSource.transaction(async (manager) => {
      const rollout = await this.segments.lockRollout(manager, segmentId);
      if (!rollout || rollout.version !== version || (rollout.state !== 'pending' && rollout.state !== 'running')) return 'stale';
      const total =
        rollout.state === 'pending' ? (await queryRows<{ n: number }>(manager, 'SELECT count(*) AS n FROM users'))[0]!.n : undefined;

      const [range] = await queryRows<{ last: number | null; n: number }>(
        manager,
        'SELECT max(id) AS last, count(*) AS n FROM (SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2) AS chunk',
        [rollout.cursor, this.config.JOB_BATCH_SIZE],
      );
      if (range!.last === null) {
        await this.segments.advanceRollout(manager, segmentId, {
          state: 'done',
          cursor: rollout.cursor,
          processed: rollout.processed,
          total,
        });
        return 'done';
      }

      const params = [segmentId, rollout.cursor, range!.last, rollout.threshold];
      const added = await queryRows<{ user_id: number }>(
        manager,
        `INSERT INTO memberships (user_id, segment_id, source)
         SELECT u.id, $1, 'auto' FROM users u
         WHERE u.id > $2 AND u.id <= $3 AND segment_bucket($1, u.id) < $4
           AND NOT EXISTS (SELECT 1 FROM segment_opt_outs o WHERE o.user_id = u.id AND o.segment_id = $1)
         ON CONFLICT DO NOTHING
         RETURNING user_id`,
        params,
      );
      const removed = await queryRows<{ user_id: number }>(
        manager,
        `DELETE FROM memberships
         WHERE segment_id = $1 AND source = 'auto' AND user_id > $2 AND user_id <= $3 AND segment_bucket($1, user_id) >= $4
         RETURNING user_id`,
        params,
      );
      const change = (operation: HistoryOperation) => (row: { user_id: number }) => ({
        userId: row.user_id,
        segmentId,
        slug: rollout.slug,
        operation,
        reason: 'auto' as const,
      });
      this.history.record(manager, [...added.map(change('add')), ...removed.map(change('remove'))]);
      await this.segments.advanceRollout(manager, segmentId, {
        state: 'running',
        cursor: range!.last,
        processed: rollout.processed + range!.n,
        total,
      });
      return 'continue';
    });
  }
}
