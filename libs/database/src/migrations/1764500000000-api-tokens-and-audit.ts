import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API tokens (stored as SHA-256 digests of their secrets), the actor of every history entry,
 * and who deleted a segment (the actor of its purge's removals).
 */
export class ApiTokensAndAudit1764500000000 implements MigrationInterface {
  name = 'ApiTokensAndAudit1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_tokens (
        id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
        name         varchar(128)  NOT NULL,
        scopes       varchar(5)[]  NOT NULL CONSTRAINT api_tokens_scopes_kind CHECK (scopes <@ ARRAY['read', 'write', 'admin']::varchar(5)[] AND cardinality(scopes) > 0),
        secret_hash  bytea         NOT NULL CONSTRAINT api_tokens_secret_hash_key UNIQUE,
        created_at   timestamptz   NOT NULL DEFAULT now(),
        expires_at   timestamptz,
        revoked_at   timestamptz,
        last_used_at timestamptz
      )`);
    // Null for entries written before actors were recorded.
    await queryRunner.query(`ALTER TABLE membership_history ADD COLUMN actor varchar(128)`);
    await queryRunner.query(`ALTER TABLE segments ADD COLUMN deleted_by varchar(128)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE segments DROP COLUMN deleted_by`);
    await queryRunner.query(`ALTER TABLE membership_history DROP COLUMN actor`);
    await queryRunner.query(`DROP TABLE api_tokens`);
  }
}
