import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { planEachStatement } from '#libs/database';
import { UsersService } from '#libs/users';
import { DataSource } from 'typeorm';
import { MembershipsRepository } from './memberships.repository.js';

/**
 * Removes expired memberships, found in PostgreSQL by the expires_at index, so expiry needs
 * nothing in Redis to be correct: any sweep after a restart or a Redis loss finds every due
 * row. History entries carry the expiry instant and reason `ttl`.
 */
@Injectable()
export class MembershipExpiryService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly memberships: MembershipsRepository,
    private readonly users: UsersService,
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
      await planEachStatement(manager);
      const due = await this.memberships.dueUsers(manager, this.config.JOB_BATCH_SIZE);
      if (due.length === 0) return { removed: 0, candidates: 0 };
      // Users a request is changing right now are skipped, not waited for: no sweep ever
      // delays a request or deadlocks with one.
      const locked = await this.users.lockUnlessBusy(manager, [...new Set(due)]);
      return { removed: await this.memberships.deleteExpired(manager, locked), candidates: due.length };
    });
  }
}
