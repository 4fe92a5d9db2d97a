import type { RolloutState, Segment } from './segment.entity.js';

export interface NewSegment {
  slug: string;
  description?: string | null;
  autoPercent?: number | null;
}

export interface SegmentChange {
  description?: string | null;
  /** Any value given (even the current one) starts a new rollout. */
  autoPercent?: number | null;
}

/** An active segment as membership changes refer to it. */
export type SegmentRef = Pick<Segment, 'id' | 'slug'>;

/** A deleted segment whose memberships are being purged, and who deleted it (the actor of the removals). */
export interface DeletedSegment extends SegmentRef {
  deletedBy: string;
}

/** An active segment with automatic assignment, and its threshold in buckets (see thresholdOf). */
export interface AutoSegment extends SegmentRef {
  threshold: number;
}

/** The rollout of a segment, read and locked inside a rollout chunk. */
export interface RolloutRow extends AutoSegment {
  state: RolloutState | null;
  version: number;
  cursor: number;
  processed: number;
  total: number | null;
}

export interface RolloutProgress {
  state: 'running' | 'done';
  cursor: number;
  processed: number;
  /** Set by the first chunk: registered users when the rollout starts. */
  total?: number;
}
