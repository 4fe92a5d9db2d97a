import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IdAllocationError } from '#libs/common';
import { planEachStatement } from '#libs/database';
import { HeldSegmentsService } from '#libs/segments';
import { UsersService } from '#libs/users';
import { DataSource } from 'typeorm';
import { MembershipWritesService } from './membership-writes.service.js';
import { MembershipsRepository } from './memberships.repository.js';
import type { RegistrationResult } from './memberships.types.js';

/** How often a new id may turn out taken by a caller-chosen one before allocation gives up. */
const ALLOCATION_ATTEMPTS = 5;

/**
 * Registration of users, each with the automatic segments its buckets qualify for: one user
 * (through the batched write path, beside membership changes), many at once, or a new user
 * under an id the allocator hands out.
 */
@Injectable()
export class MembershipRegistrationService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly writes: MembershipWritesService,
    private readonly memberships: MembershipsRepository,
    private readonly segments: HeldSegmentsService,
    private readonly users: UsersService,
  ) {}

  /** Registers one user (with its automatic segments); returns true when the user is new. */
  registerUser(userId: number): Promise<boolean> {
    return this.writes.register(userId);
  }

  /** Registers the ids that are new, giving each the automatic segments its buckets qualify for. */
  async registerUsers(userIds: number[]): Promise<RegistrationResult> {
    const created = await this.dataSource.transaction(async (manager) => {
      await planEachStatement(manager);
      const ids = await this.users.register(manager, userIds);
      await this.memberships.assignAuto(manager, ids, await this.segments.lockAutoSegments(manager));
      return ids;
    });
    return { created: created.length, existing: new Set(userIds).size - created.length };
  }

  /**
   * Registers a user under a new id that no known user has: the allocator's next id, registered
   * through the same write path; when a caller registered that id meanwhile, the allocator moves
   * to the next free id and tries again.
   */
  async registerNewUser(): Promise<number> {
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      const candidate = await this.users.nextId();
      if (await this.registerUser(candidate)) return candidate;
      await this.users.skipTaken(candidate);
    }
    throw new IdAllocationError();
  }
}
