import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change feed follows entry ids instead of (transaction id, id). A transaction gets its id
 * at its first row lock, before the locks it may wait for, so two transactions changing one
 * user could appear in transaction-id order while they committed the other way round (a
 * replay then ended in the wrong state). History is now written under a transaction-level
 * advisory lock held until commit (HistoryRepository.insert), so entry ids are handed out in
 * commit order and a reader of `id > cursor` can miss nothing.
 */
export class ChangeFeedInCommitOrder1765000000000 implements MigrationInterface {
  name = 'ChangeFeedInCommitOrder1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX membership_history_feed_idx`);
    await queryRunner.query(`ALTER TABLE membership_history DROP COLUMN xid`);
    await queryRunner.query(`CREATE INDEX membership_history_id_idx ON membership_history (id)`);
    await queryRunner.query(`ALTER TABLE history_feed_horizon DROP COLUMN xid`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE history_feed_horizon ADD COLUMN xid xid8 NOT NULL DEFAULT '1'`);
    await queryRunner.query(`DROP INDEX membership_history_id_idx`);
    await queryRunner.query(`ALTER TABLE membership_history ADD COLUMN xid xid8 NOT NULL DEFAULT '1'`);
    await queryRunner.query(`ALTER TABLE membership_history ALTER COLUMN xid SET DEFAULT pg_current_xact_id()`);
    await queryRunner.query(`CREATE INDEX membership_history_feed_idx ON membership_history (xid, id)`);
  }
}
