import { DistributedBy, ReferenceTable } from '#libs/database';
import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { HistoryOperation, HistoryReason } from './history-operation.js';

/**
 * One change of one membership (SPEC §6), written in the transaction of the change. The table
 * is partitioned by month of `occurred_at` (partitions are created ahead by
 * HistoryPartitionsService; TypeORM sees the parent), so the key includes it.
 */
@Entity('membership_history')
@DistributedBy('user_id', { colocateWith: 'users' })
@Index('membership_history_occurred_at_idx', ['occurredAt', 'id'])
@Index('membership_history_feed_idx', ['feedBatch', 'id'])
@Check('membership_history_operation_kind', `operation IN ('add', 'remove')`)
@Check('membership_history_reason_kind', `reason IN ('manual', 'auto', 'ttl', 'segment_deleted')`)
export class MembershipHistoryEntry {
  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @PrimaryColumn({ name: 'occurred_at', type: 'timestamptz', precision: 3 })
  occurredAt: Date;

  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id: number;

  @Column({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  /** The segment's slug at the time of the change. */
  @Column({ name: 'segment_slug', type: 'varchar', length: 128, collation: 'C' })
  slug: string;

  @Column({ type: 'varchar', length: 6 })
  operation: HistoryOperation;

  @Column({ type: 'varchar', length: 16 })
  reason: HistoryReason;

  /** Who made it: the name of the API token, `auto` or `ttl`; null for entries written before actors were recorded. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  actor: string | null;

  /** When the entry was written (database clock): reports include only entries written by the time they start. */
  @Column({ name: 'recorded_at', type: 'timestamptz', precision: 3, default: () => 'clock_timestamp()' })
  recordedAt: Date;

  /** The change-feed batch that published it (see ChangeFeedRelay); null until the relay stamps it. */
  @Column({ name: 'feed_batch', type: 'bigint', nullable: true })
  feedBatch: number | null;
}

/** The change feed's relay: the last batch stamped and published, and what retention dropped (one row). */
@Entity('change_feed_relay')
@ReferenceTable()
@Check('change_feed_relay_singleton_check', 'singleton')
export class ChangeFeedRelayState {
  @PrimaryColumn({ type: 'boolean', default: true })
  singleton: boolean;

  @Column({ name: 'stamped_batch', type: 'bigint', default: 0 })
  stampedBatch: number;

  @Column({ name: 'stamped_count', type: 'bigint', default: 0 })
  stampedCount: number;

  @Column({ name: 'published_batch', type: 'bigint', default: 0 })
  publishedBatch: number;

  @Column({ name: 'horizon_batch', type: 'bigint', nullable: true })
  horizonBatch: number | null;

  @Column({ name: 'horizon_id', type: 'bigint', nullable: true })
  horizonId: number | null;
}
