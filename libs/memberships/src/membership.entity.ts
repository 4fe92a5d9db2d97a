import { DistributedBy } from '#libs/database';
import { Segment } from '#libs/segments';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

export type MembershipSource = 'manual' | 'auto';

/**
 * A user in a segment, at most once (the key). The key also carries expires_at and source
 * (INCLUDE, see the migration MembershipsCoveringKey), so the hot read is an index-only scan.
 * No foreign keys: a membership write must not lock its segment or user row beyond what the
 * write path locks itself, and the tables are distributed by user on Citus.
 */
@Entity('memberships')
@DistributedBy('user_id', { colocateWith: 'users' })
@Index('memberships_segment_user_idx', ['segmentId', 'userId'])
@Index('memberships_expires_at_idx', ['expiresAt'], { where: '(expires_at IS NOT NULL)' })
@Check('memberships_source_kind', `source IN ('manual', 'auto')`)
export class Membership {
  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @PrimaryColumn({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  @ManyToOne(() => Segment, { createForeignKeyConstraints: false })
  @JoinColumn({ name: 'segment_id' })
  segment?: Segment;

  /** `manual` (a caller's add) or `auto` (a rollout or a registration); manual members are never touched by automatic paths. */
  @Column({ type: 'varchar', length: 6 })
  source: MembershipSource;

  /** The membership ends at this instant (no read returns it from then on); null: permanent. */
  @Column({ name: 'expires_at', type: 'timestamptz', precision: 3, nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** An explicit removal of a user from a segment: it sticks, no automatic path adds the segment back (an add ends it). */
@Entity('segment_opt_outs')
@DistributedBy('user_id', { colocateWith: 'users' })
@Index('segment_opt_outs_segment_idx', ['segmentId', 'userId'])
export class SegmentOptOut {
  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @PrimaryColumn({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
