import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change feed without a lock shared by all writers. Writers no longer take the feed-order
 * lock to write history; a relay (ChangeFeedRelay) stamps committed entries with a batch
 * number after the fact, in the order they became visible, and publishes a batch once all of
 * it is visible. The feed reads published entries in (feed_batch, id) order. Entries written
 * before this migration are batch 0: under the old lock their ids were in commit order.
 * The NOTIFY trigger goes too (a NOTIFY serialises the commits of every transaction that sends
 * one, and a distributed table may not have triggers); the relay notifies when it publishes.
 */
export class ChangeFeedRelay1765200000000 implements MigrationInterface {
  name = 'ChangeFeedRelay1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER membership_history_notify ON membership_history`);
    await queryRunner.query(`DROP FUNCTION notify_membership_changes()`);
    // A constant default first (no table rewrite: existing entries read 0), then none: new entries wait for the relay.
    await queryRunner.query(`ALTER TABLE membership_history ADD COLUMN feed_batch bigint DEFAULT 0`);
    await queryRunner.query(`ALTER TABLE membership_history ALTER COLUMN feed_batch DROP DEFAULT`);
    await queryRunner.query(`DROP INDEX membership_history_id_idx`);
    // Serves the feed (batch, id order) and the relay (feed_batch IS NULL, in id order).
    await queryRunner.query(`CREATE INDEX membership_history_feed_idx ON membership_history (feed_batch, id)`);
    await queryRunner.query(`
      CREATE TABLE change_feed_relay (
        singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        stamped_batch   bigint  NOT NULL DEFAULT 0,
        stamped_count   bigint  NOT NULL DEFAULT 0,
        published_batch bigint  NOT NULL DEFAULT 0,
        horizon_batch   bigint,
        horizon_id      bigint
      )`);
    await queryRunner.query(`
      INSERT INTO change_feed_relay (horizon_batch, horizon_id)
      SELECT 0, id FROM history_feed_horizon
      UNION ALL SELECT NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM history_feed_horizon)`);
    await queryRunner.query(`DROP TABLE history_feed_horizon`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE history_feed_horizon (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        id        bigint  NOT NULL
      )`);
    await queryRunner.query(`INSERT INTO history_feed_horizon (id) SELECT horizon_id FROM change_feed_relay WHERE horizon_id IS NOT NULL`);
    await queryRunner.query(`DROP TABLE change_feed_relay`);
    await queryRunner.query(`DROP INDEX membership_history_feed_idx`);
    await queryRunner.query(`CREATE INDEX membership_history_id_idx ON membership_history (id)`);
    await queryRunner.query(`ALTER TABLE membership_history DROP COLUMN feed_batch`);
    await queryRunner.query(`
      CREATE FUNCTION notify_membership_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('membership_changes', '');
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER membership_history_notify AFTER INSERT ON membership_history
      FOR EACH STATEMENT EXECUTE FUNCTION notify_membership_changes()`);
  }
}
