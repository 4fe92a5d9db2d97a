import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Memberships and opt-outs drop their foreign keys. PostgreSQL checks a foreign key with one
 * query per inserted row (two per membership: about 8 µs, 40 % of a 100 000-user bulk add and
 * of every rollout chunk), while what they guard cannot happen: users and segments are never
 * deleted (segments are soft-deleted), and every write path inserts only ids it has just
 * registered or resolved and locked in the same transaction (the lock protocol). The fault
 * suite checks after every scenario that each membership and opt-out names an existing user
 * and segment.
 */
export class MembershipsWithoutForeignKeys1764900000000 implements MigrationInterface {
  name = 'MembershipsWithoutForeignKeys1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE memberships DROP CONSTRAINT IF EXISTS memberships_user_id_fkey, DROP CONSTRAINT IF EXISTS memberships_segment_id_fkey`,
    );
    await queryRunner.query(
      `ALTER TABLE segment_opt_outs DROP CONSTRAINT IF EXISTS segment_opt_outs_user_id_fkey, DROP CONSTRAINT IF EXISTS segment_opt_outs_segment_id_fkey`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE memberships ADD FOREIGN KEY (user_id) REFERENCES users (id), ADD FOREIGN KEY (segment_id) REFERENCES segments (id)`,
    );
    await queryRunner.query(
      `ALTER TABLE segment_opt_outs ADD FOREIGN KEY (user_id) REFERENCES users (id), ADD FOREIGN KEY (segment_id) REFERENCES segments (id)`,
    );
  }
}
