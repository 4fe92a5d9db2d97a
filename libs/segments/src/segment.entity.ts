import { Column, CreateDateColumn, DeleteDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type RolloutState = 'pending' | 'running' | 'done' | 'failed';

const numericToNumber = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

@Entity({ name: 'segments' })
export class SegmentEntity {
  @PrimaryGeneratedColumn('identity', { generatedIdentity: 'ALWAYS' })
  id: number;

  /** Case-sensitive, ordered bytewise (COLLATE "C"); unique among active segments only. */
  @Column({ type: 'varchar', length: 128, collation: 'C' })
  slug: string;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  description: string | null;

  /** Share of registered users (0–100, two decimals) given the segment automatically; null for manual-only segments. */
  @Column({ name: 'auto_percent', type: 'numeric', precision: 5, scale: 2, nullable: true, transformer: numericToNumber })
  autoPercent: number | null;

  /** Progress of the latest auto_percent change; null for a segment that never had one. */
  @Column({ name: 'rollout_state', type: 'varchar', length: 8, nullable: true })
  rolloutState: RolloutState | null;

  /** Bumped by every auto_percent change; jobs of an older version stop. */
  @Column({ name: 'rollout_version', type: 'integer', default: 0 })
  rolloutVersion: number;

  /** Users up to this id have been processed by the current rollout. */
  @Column({ name: 'rollout_cursor', type: 'bigint', default: 0 })
  rolloutCursor: number;

  @Column({ name: 'rollout_processed', type: 'bigint', default: 0 })
  rolloutProcessed: number;

  /** Registered users when the rollout started. */
  @Column({ name: 'rollout_total', type: 'bigint', nullable: true })
  rolloutTotal: number | null;

  @Column({ name: 'rollout_error', type: 'varchar', length: 1000, nullable: true })
  rolloutError: string | null;

  /** When the memberships of a deleted segment were all removed. */
  @Column({ name: 'purged_at', type: 'timestamptz', nullable: true })
  purgedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt: Date | null;
}
