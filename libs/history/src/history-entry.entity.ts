import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { HistoryOperation, HistoryReason } from './history.types.js';

/** One membership change. Partitioned by month of `occurred_at` (see the migration). */
@Entity({ name: 'membership_history' })
export class HistoryEntryEntity {
  @PrimaryColumn({ type: 'bigint' })
  id: number;

  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @Column({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  @Column({ name: 'segment_slug', type: 'varchar', length: 128, collation: 'C' })
  segmentSlug: string;

  @Column({ type: 'varchar', length: 6 })
  operation: HistoryOperation;

  @Column({ type: 'varchar', length: 16 })
  reason: HistoryReason;

  @PrimaryColumn({ name: 'occurred_at', type: 'timestamptz', precision: 3 })
  occurredAt: Date;

  @Column({ name: 'recorded_at', type: 'timestamptz', precision: 3 })
  recordedAt: Date;
}
