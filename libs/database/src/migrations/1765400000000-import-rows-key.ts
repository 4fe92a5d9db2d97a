import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Staged import ids get a key, as every table has (its entity needs one, and a distributed
 * table's key must hold its distribution column, user_id): the id's line in the file makes a
 * row unique, since a file may list an id twice. Rows staged before this migration are numbered
 * in their physical order; the key's index replaces the (import_id, user_id) index.
 */
export class ImportRowsKey1765400000000 implements MigrationInterface {
  name = 'ImportRowsKey1765400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE import_rows ADD COLUMN line bigint`);
    await queryRunner.query(`
      UPDATE import_rows r SET line = numbered.line
      FROM (SELECT ctid, row_number() OVER (PARTITION BY import_id) AS line FROM import_rows) AS numbered
      WHERE r.ctid = numbered.ctid`);
    await queryRunner.query(`ALTER TABLE import_rows ALTER COLUMN line SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE import_rows ADD CONSTRAINT import_rows_pkey PRIMARY KEY (import_id, user_id, line)`);
    await queryRunner.query(`DROP INDEX import_rows_import_user_idx`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX import_rows_import_user_idx ON import_rows (import_id, user_id)`);
    await queryRunner.query(`ALTER TABLE import_rows DROP CONSTRAINT import_rows_pkey`);
    await queryRunner.query(`ALTER TABLE import_rows DROP COLUMN line`);
  }
}
