import { Injectable } from '@nestjs/common';
import { Deployment, lockRows, queryRows, TableStatistics } from '#libs/database';
import { MAX_USER_ID } from './user.js';
import type { EntityManager } from 'typeorm';

/**
 * Locks users for the rest of the transaction, waiting for whoever holds them: for bulk
 * changes, which may wait for the users they include; requests never wait (LOCK_UNLESS_BUSY).
 */
const LOCK = lockRows({ table: 'users', alias: 'u', key: 'id', where: 'u.id = ANY($1::bigint[])', returning: 'u.id' });

/** Locks whichever of the users nobody holds, without waiting (see the function's migration); the others are busy. */
const LOCK_UNLESS_BUSY = 'SELECT user_id AS "userId", state FROM lock_users_unless_busy($1::bigint[])';

const INSERT_NEW = 'INSERT INTO users (id) SELECT DISTINCT unnest($1::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING RETURNING id';

/**
 * How long registering new users may wait for another transaction registering one of them
 * (a campaign that lists it) before the request gives up and tries again by itself.
 */
const REGISTRATION_WAIT = '50ms';

/**
 * Around a registration that must not wait: a savepoint to return to, and a lock timeout for
 * the statement (on a Citus cluster it reaches every node: see the session settings in
 * dataSourceOptions).
 */
const BEGIN_NO_WAIT = `SAVEPOINT register_users; SET LOCAL lock_timeout = '${REGISTRATION_WAIT}'`;
const END_NO_WAIT = 'SET LOCAL lock_timeout = DEFAULT; RELEASE SAVEPOINT register_users';
const UNDO_NO_WAIT = 'ROLLBACK TO SAVEPOINT register_users';

/** SQLSTATE of a lock wait that ran out of lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/** The next `limit` users after `after` in id order: a rollout chunk's range, its last id and size. */
const CHUNK = `SELECT max(id) AS last, count(*) AS count FROM (SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2) AS chunk`;

const COUNT = 'SELECT count(*) AS count FROM users';

const NEXT_ALLOCATED = `SELECT nextval('users_allocated_id_seq') AS id`;

/** Registered ids from $1 up, in order: where the allocator looks for a gap. */
const IDS_FROM = 'SELECT id FROM users WHERE id >= $1 ORDER BY id LIMIT $2';
const GAP_PAGE = 1_000;

const MOVE_ALLOCATOR = `SELECT setval('users_allocated_id_seq', $1, false)`;

/**
 * Every statement on the `users` table and its id sequence, hand-written: registration and the
 * user locks of every membership write are set-based over a batch (up to 1 000 000 ids).
 */
@Injectable()
export class UsersRepository {
  constructor(
    private readonly statistics: TableStatistics,
    private readonly deployment: Deployment,
  ) {}

  /** Locks the known users among `userIds` for the rest of the transaction, waiting for them; returns their ids. */
  async lock(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    return (await queryRows<{ id: number }>(manager, LOCK[this.deployment.kind], [userIds])).map((row) => row.id);
  }

  /** Locks the known users among `userIds` that nobody holds, without waiting; the known others are `busy`. */
  async lockUnlessBusy(manager: EntityManager, userIds: readonly number[]): Promise<{ locked: number[]; busy: number[] }> {
    const result = { locked: [] as number[], busy: [] as number[] };
    if (userIds.length === 0) return result;
    for (const row of await queryRows<{ userId: number; state: 'locked' | 'busy' }>(manager, LOCK_UNLESS_BUSY, [userIds])) {
      result[row.state].push(row.userId);
    }
    return result;
  }

  /** Registers the ids no user has yet, waiting for transactions that register them too; returns them (in id order). */
  async insertNew(manager: EntityManager, userIds: readonly number[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    const created = (await queryRows<{ id: number }>(manager, INSERT_NEW, [userIds])).map((row) => row.id);
    this.statistics.changed(manager, 'users', created.length);
    return created;
  }

  /**
   * Registers the ids no user has yet unless another transaction is registering one of them:
   * then nothing is registered and `busy` says so (the caller tries again later). Ids that
   * turn out registered meanwhile are not `created`.
   */
  async insertNewUnlessBusy(manager: EntityManager, userIds: readonly number[]): Promise<{ created: number[]; busy: boolean }> {
    if (userIds.length === 0) return { created: [], busy: false };
    await manager.query(BEGIN_NO_WAIT);
    try {
      const created = await this.insertNew(manager, userIds);
      await manager.query(END_NO_WAIT);
      return { created, busy: false };
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      await manager.query(UNDO_NO_WAIT);
      return { created: [], busy: true };
    }
  }

  /** The rollout chunk after `after`: its last user id (null when none is left) and how many users it holds. */
  async chunk(manager: EntityManager, after: number, limit: number): Promise<{ last: number | null; count: number }> {
    const [row] = await queryRows<{ last: number | null; count: number }>(manager, CHUNK, [after, limit]);
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

  /**
   * The first id at or after `userId` that no user has (the allocator met a run of caller-chosen
   * ids), walking registered ids page by page; null when none is left up to the largest id. (A
   * self-join on id + 1 found it in one statement; a table spread over shards cannot join so.)
   */
  async firstFreeFrom(manager: EntityManager, userId: number): Promise<number | null> {
    let expected = userId;
    for (;;) {
      const ids = (await queryRows<{ id: number }>(manager, IDS_FROM, [expected, GAP_PAGE])).map((row) => row.id);
      for (const id of ids) {
        if (id !== expected) return expected;
        expected++;
      }
      if (ids.length < GAP_PAGE) return expected <= MAX_USER_ID ? expected : null;
    }
  }

  /** The allocator's next id becomes `userId`. */
  async moveAllocator(manager: EntityManager, userId: number): Promise<void> {
    await queryRows(manager, MOVE_ALLOCATOR, [userId]);
  }
}
