import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change feed: every history entry records the id of the transaction that wrote it. The
 * feed serves entries in (xid, id) order, and only those of transactions older than the
 * oldest one still running, so an entry can never appear behind a position a consumer has
 * read. Entries written before this migration get xid 1 (they come first). A trigger wakes
 * listening instances when entries are written; a horizon records what retention dropped.
 */
export class ChangeFeed1764800000000 implements MigrationInterface {
  name = 'ChangeFeed1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // A constant default first (no table rewrite), then the transaction id for new rows.
    await queryRunner.query(`ALTER TABLE membership_history ADD COLUMN xid xid8 NOT NULL DEFAULT '1'`);
    await queryRunner.query(`ALTER TABLE membership_history ALTER COLUMN xid SET DEFAULT pg_current_xact_id()`);
    await queryRunner.query(`CREATE INDEX membership_history_feed_idx ON membership_history (xid, id)`);
    await queryRunner.query(`
      CREATE TABLE history_feed_horizon (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        xid       xid8    NOT NULL,
        id        bigint  NOT NULL
      )`);
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

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER membership_history_notify ON membership_history`);
    await queryRunner.query(`DROP FUNCTION notify_membership_changes()`);
    await queryRunner.query(`DROP TABLE history_feed_horizon`);
    await queryRunner.query(`DROP INDEX membership_history_feed_idx`);
    await queryRunner.query(`ALTER TABLE membership_history DROP COLUMN xid`);
  }
}
