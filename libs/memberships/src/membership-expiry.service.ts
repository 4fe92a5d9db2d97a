import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { queryRows } from '#libs/database';
import { HistorySubscriber } from '#libs/history';
import { DataSource } from 'typeorm';

/**
 * Removes expired memberships (SPEC §4), found in PostgreSQL by the expires_at index, so
 * expiry needs nothing in Redis to be correct: any sweep after a restart or a Redis loss
 * finds every due row. History entries carry the expiry instant and reason `ttl`.
 */
@Injectable()
export class MembershipExpiryService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly history: HistorySubscriber,
    private readonly config: AppConfig,
  ) {}

  /** Removes due memberships batch by batch; returns how many it removed. */
  async sweep(shouldStop: () => boolean = () => false): Promise<number> {
    let total = 0;
    for (;;) {
      const { removed, candidates } = await this.batch();
      total += removed;
      // A short batch means nothing else is due; a batch that removed nothing means the rest are
      // users busy with requests right now (their own request removes what expired).
      if (candidates < this.config.JOB_BATCH_SIZE || removed === 0 || shouldStop()) return total;
    }
  }

  private batch(): Promise<{ removed: number; candidates: number }> {
    return this.dataSource.transaction(async (manager) => {
      const due = await queryRows<{ user_id: number }>(
        manager,
        `SELECT m.user_id FROM memberships m JOIN segments s ON s.id = m.segment_id AND s.deleted_at IS NULL
         WHERE m.expires_at <= now() ORDER BY m.expires_at LIMIT $1`,
        [this.config.JOB_BATCH_SIZE],
      );
      if (due.length === 0) return { removed: 0, candidates: 0 };
      // Users a request is changing right now are skipped, not waited for: no sweep ever
      // delays a request or deadlocks with one. The DELETE re-checks the expiry under the
      // lock, so a membership renewed meanwhile is kept.
      const users = await queryRows<{ id: number }>(
        manager,
        'SELECT id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED',
        [[...new Set(due.map((row) => row.user_id))]],
      );
      const expired = await queryRows<{ user_id: number; segment_id: number; slug: string; expires_at: Date }>(
        manager,
        `DELETE FROM memberships m USING segments s
         WHERE m.user_id = ANY($1::bigint[]) AND m.expires_at <= now() AND s.id = m.segment_id AND s.deleted_at IS NULL
         RETURNING m.user_id, m.segment_id, s.slug, m.expires_at`,
        [users.map((user) => user.id)],
      );
      this.history.record(
        manager,
        expired.map((row) => ({
          userId: row.user_id,
          segmentId: row.segment_id,
          slug: row.slug,
          operation: 'remove',
          reason: 'ttl',
          occurredAt: row.expires_at,
        })),
      );
      return { removed: expired.length, candidates: due.length };
    });
  }
}
