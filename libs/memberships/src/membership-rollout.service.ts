import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { SegmentJobsService } from '#libs/segments';
import { planEachStatement, retryOnDeadlock } from '#libs/database';
import { UsersService } from '#libs/users';
import { DataSource } from 'typeorm';
import { MembershipsRepository } from './memberships.repository.js';

/** How a rollout run ended: finished, replaced by a newer rollout (or the segment was deleted), or asked to stop. */
export type RolloutOutcome = 'done' | 'stale' | 'interrupted';

/**
 * Percent rollouts: walks the registered users in id order, chunk by chunk, and makes each
 * chunk match the rule "automatic member ⇔ eligible" (see MembershipsRepository). Each chunk
 * is one transaction that also advances the rollout's cursor, so a retried, duplicated or
 * restarted job continues where the last committed chunk ended and never applies a change
 * twice. A chunk locks only the users it is about to change (waiting for them, like any bulk
 * change) and checks the rule again under their locks, so an explicit removal racing the chunk
 * is either seen by it (opt-out committed first) or removes what it added; requests for the
 * chunk's other users never wait for it.
 */
@Injectable()
export class MembershipRolloutService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly segments: SegmentJobsService,
    private readonly users: UsersService,
    private readonly memberships: MembershipsRepository,
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
    return retryOnDeadlock(() =>
      this.dataSource.transaction(async (manager) => {
        const rollout = await this.segments.lockRollout(manager, segmentId);
        await planEachStatement(manager);
        if (!rollout || rollout.version !== version || (rollout.state !== 'pending' && rollout.state !== 'running')) return 'stale';
        const total = rollout.state === 'pending' ? await this.users.count(manager) : undefined;
        const chunk = await this.users.chunk(manager, rollout.cursor, this.config.JOB_BATCH_SIZE);
        if (chunk.last === null) {
          await this.segments.advanceRollout(manager, segmentId, {
            state: 'done',
            cursor: rollout.cursor,
            processed: rollout.processed,
            total,
          });
          return 'done';
        }
        const candidates = await this.memberships.lockRolloutCandidates(manager, rollout, rollout.cursor, chunk.last);
        await this.memberships.applyRollout(manager, rollout, candidates);
        await this.segments.advanceRollout(manager, segmentId, {
          state: 'running',
          cursor: chunk.last,
          processed: rollout.processed + chunk.count,
          total,
        });
        return 'continue';
      }),
    );
  }
}
