import { Injectable } from '@nestjs/common';
import { queryRows, TableStatistics } from '#libs/database';
import type { EntityManager } from 'typeorm';

/** FOR NO KEY UPDATE, in id order: requests for one user queue up, and two batches never deadlock on each other. */
const LOCK = 'SELECT id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE';

/** The sweep never waits for, or deadlocks with, a request: users being changed right now are skipped. */
const LOCK_SKIP_LOCKED = 'SELECT id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED';

const INSERT_NEW = 'INSERT INTO users (id) SELECT DISTINCT unnest($1::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING RETURNING id';

/**
 * The next `limit` users after `after`, locked FOR SHARE (in id order) for a rollout chunk: a
 * membership change of one of them waits for the chunk, and the chunk for the change.
 */
const LOCK_CHUNK = `
  SELECT max(id) AS last, count(*) AS count FROM (SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2 FOR SHARE) AS chunk`;

const COUNT = 'SELECT count(*) AS count FROM users';

const NEXT_ALLOCATED = `SELECT nextval('users_allocated_id_seq') AS id`;

/**
 * The first id at or after $1 that no user has (the sequence meets a run of caller-chosen ids):
 * the gap after the first registered id, walking the primary key; null when none is left below the maximum.
 */
const FIRST_FREE_FROM = `
  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = $1) THEN $1::bigint ELSE (
    SELECT u.id + 1 FROM users u
    WHERE u.id >= $1 AND u.id < 9007199254740991 AND NOT EXISTS (SELECT 1 FROM users n WHERE n.id = u.id + 1)
    ORDER BY u.id LIMIT 1) END AS id`;

const MOVE_ALLOCATOR = `SELECT setval('users_allocated_id_seq', $1, false)`;

/** Every statement on the `users` table and its id sequence. */
@Injectable()
export class UsersRepository {
  constructor(private readonly statistics: TableStatistics) {}

  /** Locks the known users among `userIds` for the rest of the transaction; returns their ids. */
  async lock(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    return (await queryRows<{ id: number }>(manager, LOCK, [userIds])).map((row) => row.id);
  }

  async lockSkipLocked(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    return (await queryRows<{ id: number }>(manager, LOCK_SKIP_LOCKED, [userIds])).map((row) => row.id);
  }

  /** Registers the ids no user has yet; returns them (in id order). */
  async insertNew(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    const created = (await queryRows<{ id: number }>(manager, INSERT_NEW, [userIds])).map((row) => row.id);
    this.statistics.changed(manager, 'users', created.length);
    return created;
  }

  async lockChunk(manager: EntityManager, after: number, limit: number): Promise<{ last: number | null; count: number }> {
    const [row] = await queryRows<{ last: number | null; count: number }>(manager, LOCK_CHUNK, [after, limit]);
    return row!;
  }

  async count(manager: EntityManager): Promise<number> {
    const [row] = await queryRows<{ count: number }>(manager, COUNT);
    return row!.count;
  }

  async nextAllocatedId(manager: EntityManager): Promise<number> {
    const [row] = await queryRows<{ id: number }>(manager, NEXT_ALLOCATED);
    return row!.id;
  }

  async firstFreeFrom(manager: EntityManager, userId: number): Promise<number | null> {
    const [row] = await queryRows<{ id: number | null }>(manager, FIRST_FREE_FROM, [userId]);
    return row!.id;
  }

  /** The allocator's next id becomes `userId`. */
  async moveAllocator(manager: EntityManager, userId: number): Promise<void> {
    await queryRows(manager, MOVE_ALLOCATOR, [userId]);
  }
}
