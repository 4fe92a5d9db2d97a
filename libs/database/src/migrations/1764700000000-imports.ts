import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CSV imports of segment members: the import's state (progress advances in the transaction
 * of each applied chunk, so a crashed worker's successor resumes exactly) and the staged user
 * ids of its file.
 */
export class Imports1764700000000 implements MigrationInterface {
  name = 'Imports1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE imports (
        id          uuid          PRIMARY KEY,
        segment_id  integer       NOT NULL REFERENCES segments (id),
        mode        varchar(7)    NOT NULL CONSTRAINT imports_mode_kind CHECK (mode IN ('add', 'remove', 'replace')),
        expires_at  timestamptz(3),
        state       varchar(10)   NOT NULL CONSTRAINT imports_state_kind CHECK (state IN ('running', 'done', 'failed')),
        -- apply: the file's ids in user id order; prune (replace only): manual members not in the file.
        phase       varchar(5)    NOT NULL DEFAULT 'apply' CONSTRAINT imports_phase_kind CHECK (phase IN ('apply', 'prune')),
        cursor      bigint        NOT NULL DEFAULT 0,
        lines       bigint        NOT NULL DEFAULT 0,
        total       bigint        NOT NULL DEFAULT 0,
        processed   bigint        NOT NULL DEFAULT 0,
        added       bigint        NOT NULL DEFAULT 0,
        removed     bigint        NOT NULL DEFAULT 0,
        bad_lines   jsonb,
        error       varchar(1000),
        actor       varchar(128)  NOT NULL,
        created_at  timestamptz   NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX imports_unfinished_idx ON imports (created_at) WHERE state = 'running'`);
    // Staging, written by COPY and removed when the import ends: no foreign key to check per row.
    await queryRunner.query(`CREATE TABLE import_rows (import_id uuid NOT NULL, user_id bigint NOT NULL)`);
    await queryRunner.query(`CREATE INDEX import_rows_import_user_idx ON import_rows (import_id, user_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE import_rows`);
    await queryRunner.query(`DROP TABLE imports`);
  }
}
