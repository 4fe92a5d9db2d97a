import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764200000000 implements MigrationInterface {
  name = 'InitialSchema1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id         bigint      PRIMARY KEY CONSTRAINT users_id_range CHECK (id BETWEEN 1 AND 9007199254740991),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Source of ids for "register a user without an id"; callers' own ids may be anywhere in the range,
    // so allocation skips ahead past max(id) when it meets one (see UsersRepository.allocate).
    await queryRunner.query(`CREATE SEQUENCE users_allocated_id_seq AS bigint MINVALUE 1 MAXVALUE 9007199254740991`);

    await queryRunner.query(`
      CREATE TABLE segments (
        id           integer      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        slug         varchar(128) COLLATE "C" NOT NULL CONSTRAINT segments_slug_format CHECK (slug ~ '^[A-Za-z0-9_.-]{1,128}$'),
        description  varchar(1000),
        auto_percent numeric(5,2) CONSTRAINT segments_auto_percent_range CHECK (auto_percent BETWEEN 0 AND 100),
        created_at   timestamptz  NOT NULL DEFAULT now(),
        updated_at   timestamptz  NOT NULL DEFAULT now(),
        deleted_at   timestamptz
      )`);
    // A slug names at most one active segment; deleted segments keep theirs for history.
    await queryRunner.query(`CREATE UNIQUE INDEX segments_active_slug_key ON segments (slug) WHERE deleted_at IS NULL`);

    await queryRunner.query(`
      CREATE TABLE memberships (
        user_id    bigint      NOT NULL REFERENCES users (id),
        segment_id integer     NOT NULL REFERENCES segments (id),
        source     varchar(6)  NOT NULL CONSTRAINT memberships_source_kind CHECK (source IN ('manual', 'auto')),
        expires_at timestamptz(3),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, segment_id)
      )`);
    await queryRunner.query(`CREATE INDEX memberships_segment_user_idx ON memberships (segment_id, user_id)`);
    await queryRunner.query(`CREATE INDEX memberships_expires_at_idx ON memberships (expires_at) WHERE expires_at IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE memberships`);
    await queryRunner.query(`DROP TABLE segments`);
    await queryRunner.query(`DROP SEQUENCE users_allocated_id_seq`);
    await queryRunner.query(`DROP TABLE users`);
  }
}
