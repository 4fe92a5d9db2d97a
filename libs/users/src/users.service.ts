import { Injectable } from '@nestjs/common';
import { IdAllocationError } from '#libs/common';
import type { EntityManager } from 'typeorm';
import { UsersRepository } from './users.repository.js';

/** How often allocation may meet a caller-chosen id before giving up (each miss jumps to the next free id). */
const ALLOCATION_ATTEMPTS = 5;

/** User identity: registration and id allocation. Users are locked, one row each, by the membership write path. */
@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  /**
   * Registers the ids among `userIds` that no user has, inside the caller's transaction, and
   * leaves every one of them locked. Returns the ids this call registered.
   */
  async register(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    const created = await this.users.insertNew(manager, userIds);
    if (created.length < new Set(userIds).size) {
      // The others were registered by transactions that committed meanwhile (or existed already): lock them now.
      const createdSet = new Set(created);
      await this.users.lock(
        manager,
        userIds.filter((id) => !createdSet.has(id)),
      );
    }
    return created;
  }

  /**
   * Registers a user under a new id that no known user has. The allocator is a sequence;
   * when it meets an id a caller registered, it moves to the next free id (wrapping around
   * at the largest id), so no set of registered ids can stop allocation for good.
   */
  async allocate(manager: EntityManager): Promise<number> {
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      const candidate = await this.users.nextAllocatedId(manager);
      if (await this.users.insertOne(manager, candidate)) return candidate;
      const free = (await this.users.firstFreeFrom(manager, candidate)) ?? (await this.users.firstFreeFrom(manager, 1));
      if (free === null) break;
      await this.users.moveAllocator(manager, free);
    }
    throw new IdAllocationError();
  }
}
