export type HistoryOperation = 'add' | 'remove';

/** Why a membership changed: a caller's request, a percent rollout, its TTL, or its segment's deletion. */
export type HistoryReason = 'manual' | 'auto' | 'ttl' | 'segment_deleted';

/** One real change of one membership, as the write path reports it. */
export interface MembershipChange {
  userId: number;
  segmentId: number;
  /** The segment's slug at the time of the change. */
  slug: string;
  operation: HistoryOperation;
  reason: HistoryReason;
  /** When the change took effect; omitted means "now" (the moment it is written). */
  occurredAt?: Date;
}

export interface HistoryEntry {
  id: number;
  userId: number;
  slug: string;
  operation: HistoryOperation;
  reason: HistoryReason;
  occurredAt: Date;
}
