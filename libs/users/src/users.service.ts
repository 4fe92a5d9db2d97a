import { Injectable } from '@nestjs/common';
import { queryRows } from '#libs/database';
import { ProblemException } from '#libs/common';
import type { EntityManager } from 'typeorm';

/** How often allocation may meet a caller-chosen id before giving up (each miss jumps past max(id)). */
const ALLOCATION_ATTEMPTS = 5;

/**
 * User identity: registration, id allocation, and the per-user row lock that serialises
 * the membership requests of one user (see MembershipsService).
 */
@Injectable()
export class UsersService {
  /**
   * Locks the user's row for the rest of `manager`'s transaction, registering the user
   * first when unknown. Returns true when the user was registered by this call.
   */
  async lockForChange(manager: EntityManager, userId: number): Promise<boolean> {
    if (await this.lockExisting(manager, userId)) return false;
    const inserted = await queryRows(manager, 'INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id', [userId]);
    if (inserted.length > 0) return true;
    // A concurrent request registered the user between our two statements; it has committed by now.
    await this.lockExisting(manager, userId);
    return false;
  }

  /** Registers the ids that are new; returns them (already known ids are left alone). */
  async registerMany(manager: EntityManager, userIds: number[]): Promise<number[]> {
    const rows = await queryRows<{ id: number }>(
      manager,
      `INSERT INTO users (id) SELECT DISTINCT unnest($1::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING RETURNING id`,
      [userIds],
    );
    return rows.map((row) => row.id);
  }

  /** Registers a user under a newly allocated id that no known user has. */
  async allocate(manager: EntityManager): Promise<number> {
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      const [row] = await queryRows<{ id: number }>(
        manager,
        `INSERT INTO users (id) VALUES (nextval('users_allocated_id_seq')) ON CONFLICT DO NOTHING RETURNING id`,
      );
      if (row) return row.id;
      // Callers registered ids of their own above the sequence: continue after the largest one.
      await queryRows(manager, `SELECT setval('users_allocated_id_seq', (SELECT max(id) FROM users))`);
    }
    throw new ProblemException({
      type: 'id-allocation-failed',
      title: 'Could not allocate a user id',
      status: 503,
      detail: 'Every allocated id was already taken by a caller-chosen id; retry the request.',
    });
  }

  private async lockExisting(manager: EntityManager, userId: number): Promise<boolean> {
    const rows = await queryRows(manager, 'SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
    return rows.length > 0;
  }
}
