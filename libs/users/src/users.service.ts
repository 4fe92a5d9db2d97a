import { Injectable } from '@nestjs/common';
import { IdAllocationError } from '#libs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { UsersRepository } from './users.repository.js';

/** User identity: registration, id allocation, and the user locks every membership change of a user holds. */
@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
  ) {}

  /**
   * Locks the users among `userIds` for the rest of the transaction, waiting for whoever holds
   * them, and registers the ones that are new. Returns the ids this call registered. For bulk
   * changes, which may wait for the users they include.
   */
  async lockAndRegister(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    const existing = new Set(await this.users.lock(manager, userIds));
    const created = await this.users.insertNew(
      manager,
      userIds.filter((id) => !existing.has(id)),
    );
    if (existing.size + created.length < new Set(userIds).size) {
      // The others were registered by transactions that committed meanwhile: lock them now.
      const createdSet = new Set(created);
      await this.users.lock(
        manager,
        userIds.filter((id) => !existing.has(id) && !createdSet.has(id)),
      );
    }
    return created;
  }

  /**
   * Like lockAndRegister, but never waits: users another transaction holds (or is registering)
   * are returned as `busy`, neither locked nor registered, for the caller to try again later.
   * A request's batch-mates never wait for a campaign that holds one of them.
   */
  async lockAndRegisterUnlessBusy(manager: EntityManager, userIds: readonly number[]): Promise<{ created: number[]; busy: number[] }> {
    const { locked, busy } = await this.users.lockUnlessBusy(manager, userIds);
    const known = new Set([...locked, ...busy]);
    const unknown = userIds.filter((id) => !known.has(id));
    const registration = await this.users.insertNewUnlessBusy(manager, unknown);
    if (registration.busy) return { created: [], busy: [...busy, ...unknown] };
    // Ids registered by a transaction that committed meanwhile are locked by nobody here yet: they try again.
    const createdSet = new Set(registration.created);
    return { created: registration.created, busy: [...busy, ...unknown.filter((id) => !createdSet.has(id))] };
  }

  /** Locks the users among `userIds` for the rest of the transaction, waiting for whoever holds them. */
  lock(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    return this.users.lock(manager, userIds);
  }

  /** Locks the users among `userIds` that nobody holds, without waiting; returns them. */
  async lockUnlessBusy(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    return (await this.users.lockUnlessBusy(manager, userIds)).locked;
  }

  /** Registers the ids that no user has yet; returns them. */
  register(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    return this.users.insertNew(manager, userIds);
  }

  /** The next `limit` users after `after` (a rollout chunk): the last id, null when none is left, and how many. */
  chunk(manager: EntityManager, after: number, limit: number): Promise<{ last: number | null; count: number }> {
    return this.users.chunk(manager, after, limit);
  }

  count(manager: EntityManager): Promise<number> {
    return this.users.count(manager);
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
