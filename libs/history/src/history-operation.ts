export type HistoryOperation = 'add' | 'remove';

/** Why a membership changed: a caller's request, a percent rollout, its TTL, or its segment's deletion. */
export type HistoryReason = 'manual' | 'auto' | 'ttl' | 'segment_deleted';
