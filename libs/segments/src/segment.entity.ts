import { ReferenceTable } from '#libs/database';
import { Check, Column, CreateDateColumn, DeleteDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type RolloutState = 'pending' | 'running' | 'done' | 'failed';

/** numeric(5,2) arrives from pg as text: exact, and never beyond what a double holds exactly to two decimals. */
const decimalNumber = {
  to: (value: number | null) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A segment as the catalogue stores it. Deleted segments keep their row (and slug) for history. */
@Entity('segments')
@ReferenceTable()
@Index('segments_active_slug_key', ['slug'], { unique: true, where: '(deleted_at IS NULL)' })
@Index('segments_purge_unfinished_idx', ['id'], { where: '((deleted_at IS NOT NULL) AND (purged_at IS NULL))' })
@Index('segments_rollout_unfinished_idx', ['id'], {
  where: `(((rollout_state)::text = ANY ((ARRAY['pending'::character varying, 'running'::character varying])::text[])) AND (deleted_at IS NULL))`,
})
@Check('segments_auto_percent_range', 'auto_percent >= 0 AND auto_percent <= 100')
@Check('segments_rollout_state_kind', `rollout_state IN ('pending', 'running', 'done', 'failed')`)
@Check('segments_slug_format', `slug ~ '^[A-Za-z0-9_.-]{1,128}$'`)
@Check('segments_slug_has_alphanumeric', `slug ~ '[A-Za-z0-9]'`)
export class Segment {
  @PrimaryGeneratedColumn('identity', { generatedIdentity: 'ALWAYS' })
  id: number;

  /** Case-sensitive, ordered bytewise (COLLATE "C"); unique among active segments only. */
  @Column({ type: 'varchar', length: 128, collation: 'C' })
  slug: string;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  description: string | null;

  /** Share of registered users (0–100, two decimals) given the segment automatically; null for manual-only segments. */
  @Column({ name: 'auto_percent', type: 'numeric', precision: 5, scale: 2, nullable: true, transformer: decimalNumber })
  autoPercent: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** Set by DELETE /segments/{slug}: the segment is gone from every read at once; its memberships are purged after. */
  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt: Date | null;

  /** The name of the token that deleted it: the actor of the purge's removals. */
  @Column({ name: 'deleted_by', type: 'varchar', length: 128, nullable: true })
  deletedBy: string | null;

  /** When the last membership of a deleted segment was removed. */
  @Column({ name: 'purged_at', type: 'timestamptz', nullable: true })
  purgedAt: Date | null;

  /** Progress of the latest auto_percent change; null for a segment that never had one. */
  @Column({ name: 'rollout_state', type: 'varchar', length: 8, nullable: true })
  rolloutState: RolloutState | null;

  /** Bumped by every auto_percent change; jobs of an older version stop. */
  @Column({ name: 'rollout_version', type: 'integer', default: 0 })
  rolloutVersion: number;

  /** The last user id the rollout has processed (users are walked in id order). */
  @Column({ name: 'rollout_cursor', type: 'bigint', default: 0 })
  rolloutCursor: number;

  @Column({ name: 'rollout_processed', type: 'bigint', default: 0 })
  rolloutProcessed: number;

  /** Registered users when the rollout started, raised to what it processed if registrations came in meanwhile. */
  @Column({ name: 'rollout_total', type: 'bigint', nullable: true })
  rolloutTotal: number | null;

  @Column({ name: 'rollout_error', type: 'varchar', length: 1000, nullable: true })
  rolloutError: string | null;
}
