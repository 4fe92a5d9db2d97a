import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type MembershipSource = 'manual' | 'auto';

/** A user's membership of a segment: at most one per (user, segment), enforced by the primary key. */
@Entity({ name: 'memberships' })
export class MembershipEntity {
  @PrimaryColumn({ name: 'user_id', type: 'bigint' })
  userId: number;

  @PrimaryColumn({ name: 'segment_id', type: 'integer' })
  segmentId: number;

  /** `auto` when given by a percent rollout (and so removable by one), `manual` otherwise. */
  @Column({ type: 'varchar', length: 6 })
  source: MembershipSource;

  /** The membership stops at this instant; null means permanent. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
