export type RolloutState = 'pending' | 'running' | 'done' | 'failed';

/** A segment as the catalogue stores it. Deleted segments keep their row (and slug) for history. */
export interface Segment {
  id: number;
  /** Case-sensitive, ordered bytewise (COLLATE "C"); unique among active segments only. */
  slug: string;
  description: string | null;
  /** Share of registered users (0–100, two decimals) given the segment automatically; null for manual-only segments. */
  autoPercent: number | null;
  /** Progress of the latest auto_percent change; null for a segment that never had one. */
  rolloutState: RolloutState | null;
  /** Bumped by every auto_percent change; jobs of an older version stop. */
  rolloutVersion: number;
  rolloutProcessed: number;
  /** Registered users when the rollout started, raised to what it processed if registrations came in meanwhile. */
  rolloutTotal: number | null;
  rolloutError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

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
export interface SegmentRef {
  id: number;
  slug: string;
}

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
