import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Slugs must hold a letter or digit (`.` and `..` cannot travel as URL path segments); rows
 * created before keep theirs (NOT VALID checks new rows only). The id allocator wraps around
 * at the largest id instead of failing, so caller-chosen ids up there cannot stop allocation.
 */
export class HostileInput1764600000000 implements MigrationInterface {
  name = 'HostileInput1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE segments ADD CONSTRAINT segments_slug_has_alphanumeric CHECK (slug ~ '[A-Za-z0-9]') NOT VALID`);
    await queryRunner.query(`ALTER SEQUENCE users_allocated_id_seq CYCLE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER SEQUENCE users_allocated_id_seq NO CYCLE`);
    await queryRunner.query(`ALTER TABLE segments DROP CONSTRAINT segments_slug_has_alphanumeric`);
  }
}
