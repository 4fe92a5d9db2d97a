import type { HistoryOperation, HistoryReason } from './history-operation.js';
import type { MembershipHistoryEntry } from './membership-history.entity.js';

export type { HistoryOperation, HistoryReason } from './history-operation.js';

/** One real change of one membership, as the write path reports it. */
export interface MembershipChange {
  userId: number;
  segmentId: number;
  /** The segment's slug at the time of the change. */
  slug: string;
  operation: HistoryOperation;
  reason: HistoryReason;
  /** Who made it: the name of the API token, AUTOMATIC_ACTOR or EXPIRY_ACTOR. */
  actor: string;
  /** When the change took effect; omitted means "now" (the moment it is written). */
  occurredAt?: Date;
}

/** The actor of automatic assignment (rollouts, registration). */
export const AUTOMATIC_ACTOR = 'auto';
/** The actor of expiry: a membership that ran out, whatever removed its row. */
export const EXPIRY_ACTOR = 'ttl';

/** An entry as history pages and reports read it. */
export type HistoryEntry = Pick<MembershipHistoryEntry, 'id' | 'userId' | 'slug' | 'operation' | 'reason' | 'actor' | 'occurredAt'>;

/** A place in the change feed: after the entry `id` of relay batch `batch` (see ChangeFeedRelay). */
export interface FeedPosition {
  batch: number;
  id: number;
}

/** An entry as the change feed serves it: with the relay batch that published it. */
export interface FeedEntry extends HistoryEntry {
  batch: number;
}

/** The CSV layouts of a monthly report: `csv` (this service's) and `legacy` (the original service's). */
export type ReportFormat = 'csv' | 'legacy';

/** One month of history (of one user, or all) as a report reads it. */
export interface MonthReportQuery {
  /** First instant of the month (UTC) and of the next one. */
  from: Date;
  to: Date;
  userId?: number;
  format: ReportFormat;
  /** Only entries written by this database instant. */
  writtenBy: Date;
}
