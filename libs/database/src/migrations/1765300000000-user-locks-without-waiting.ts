import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `lock_users_unless_busy(ids)`: locks, without waiting, those of the given users that nobody else
 * has locked, one row at a time. A batch of requests locks its users with it, so a user held
 * by a long transaction (a campaign) leaves the batch instead of holding up the others. One
 * row per statement because that is the row lock a distributed table takes (Citus refuses
 * FOR UPDATE on a statement that spans shards). Returns each known user as `locked` or `busy`;
 * unknown users are left out.
 */
export class UserLocksWithoutWaiting1765300000000 implements MigrationInterface {
  name = 'UserLocksWithoutWaiting1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION lock_users_unless_busy(ids bigint[]) RETURNS TABLE (user_id bigint, state text)
      LANGUAGE plpgsql AS $$
      DECLARE
        candidate bigint;
      BEGIN
        FOREACH candidate IN ARRAY ids LOOP
          PERFORM 1 FROM users WHERE id = candidate FOR NO KEY UPDATE SKIP LOCKED;
          IF FOUND THEN
            user_id := candidate; state := 'locked'; RETURN NEXT;
          ELSE
            PERFORM 1 FROM users WHERE id = candidate;
            IF FOUND THEN user_id := candidate; state := 'busy'; RETURN NEXT; END IF;
          END IF;
        END LOOP;
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION lock_users_unless_busy(bigint[])`);
  }
}
