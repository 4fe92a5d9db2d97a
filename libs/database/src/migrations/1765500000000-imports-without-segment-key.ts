import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An import names its segment without a foreign key (like memberships): segments are never
 * removed (a deletion is soft), and on Citus a key between the two reference tables made every
 * lock an import chunk takes on its row lock the segments table too, so a segment's deletion and
 * an import chunk of it deadlocked across nodes.
 */
export class ImportsWithoutSegmentKey1765500000000 implements MigrationInterface {
  name = 'ImportsWithoutSegmentKey1765500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE imports DROP CONSTRAINT imports_segment_id_fkey`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE imports ADD CONSTRAINT imports_segment_id_fkey FOREIGN KEY (segment_id) REFERENCES segments (id)`);
  }
}
