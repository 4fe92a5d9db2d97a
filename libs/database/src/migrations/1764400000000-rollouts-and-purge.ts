import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Percent rollouts (state on the segment, explicit opt-outs, the bucket function) and the
 * background purge of deleted segments' memberships.
 */
export class RolloutsAndPurge1764400000000 implements MigrationInterface {
  name = 'RolloutsAndPurge1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE segments
        ADD COLUMN rollout_state     varchar(8) CONSTRAINT segments_rollout_state_kind CHECK (rollout_state IN ('pending', 'running', 'done', 'failed')),
        ADD COLUMN rollout_version   integer NOT NULL DEFAULT 0,
        ADD COLUMN rollout_cursor    bigint  NOT NULL DEFAULT 0,
        ADD COLUMN rollout_processed bigint  NOT NULL DEFAULT 0,
        ADD COLUMN rollout_total     bigint,
        ADD COLUMN rollout_error     varchar(1000),
        ADD COLUMN purged_at         timestamptz`);
    // What the reconciler looks for: rollouts to (re)start and deleted segments still to purge.
    await queryRunner.query(
      `CREATE INDEX segments_rollout_unfinished_idx ON segments (id) WHERE rollout_state IN ('pending', 'running') AND deleted_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX segments_purge_unfinished_idx ON segments (id) WHERE deleted_at IS NOT NULL AND purged_at IS NULL`,
    );

    // An explicit removal sticks: no automatic path adds the segment back to the user.
    await queryRunner.query(`
      CREATE TABLE segment_opt_outs (
        user_id    bigint      NOT NULL REFERENCES users (id),
        segment_id integer     NOT NULL REFERENCES segments (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, segment_id)
      )`);
    await queryRunner.query(`CREATE INDEX segment_opt_outs_segment_idx ON segment_opt_outs (segment_id, user_id)`);

    // The bucket of a user for a segment, 0 … 9999 (hundredths of a percent): the first 32 bits
    // of md5('<segment id>:<user id>') as an unsigned integer, modulo 10 000. A user is in a
    // segment with auto_percent p when bucket < p × 100. Mirrored by segmentBucket() in libs/segments.
    await queryRunner.query(`
      CREATE FUNCTION segment_bucket(segment_id integer, user_id bigint) RETURNS integer
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $$ SELECT (('x' || substr(md5(segment_id::text || ':' || user_id::text), 1, 8))::bit(32)::bigint % 10000)::integer $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION segment_bucket(integer, bigint)`);
    await queryRunner.query(`DROP TABLE segment_opt_outs`);
    await queryRunner.query(`
      ALTER TABLE segments
        DROP COLUMN rollout_state, DROP COLUMN rollout_version, DROP COLUMN rollout_cursor, DROP COLUMN rollout_processed,
        DROP COLUMN rollout_total, DROP COLUMN rollout_error, DROP COLUMN purged_at`);
  }
}
