import { Injectable } from '@nestjs/common';
import { IdAllocationError } from '#libs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { UsersRepository } from './users.repository.js';

/** User identity: registration and id allocation. Users are locked, one row each, by the membership write path. */
@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
  ) {}

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

  /** The allocator's next id (a sequence: never handed out twice, whatever the transactions do). */
  nextId(): Promise<number> {
    return this.users.nextAllocatedId(this.dataSource.manager);
  }

  /**
   * The allocator met `taken`, an id a caller registered: it continues at the next free id
   * after it, wrapping around at the largest id, so no set of registered ids can stop
   * allocation for good.
   */
  async skipTaken(taken: number): Promise<void> {
    const manager = this.dataSource.manager;
    const free = (await this.users.firstFreeFrom(manager, taken)) ?? (await this.users.firstFreeFrom(manager, 1));
    if (free === null) throw new IdAllocationError();
    await this.users.moveAllocator(manager, free);
  }
}
