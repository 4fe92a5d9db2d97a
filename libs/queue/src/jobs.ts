import type { AppConfig } from '#libs/config';
import type { JobOptions } from 'bull';

/** The one queue of the service; jobs are told apart by name. */
export const QUEUE_NAME = 'segmentation';

export const JobName = {
  /** Assign or unassign one segment's percent rollout, in chunks. */
  Rollout: 'segment.rollout',
  /** Remove a deleted segment's memberships, in chunks. */
  Purge: 'segment.purge',
  /** Remove expired memberships ; repeatable. */
  ExpireMemberships: 'memberships.expire',
  /** Create history partitions ahead and apply the retention; repeatable. */
  MaintainHistory: 'history.maintain',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

/** Every job remembers the request that caused it (when one did), so its logs can be traced back. */
interface TracedJob {
  requestId?: string;
}

export interface RolloutJob extends TracedJob {
  segmentId: number;
  /** The rollout version the job was created for; a job of an older version stops at once. */
  version: number;
}

export interface PurgeJob extends TracedJob {
  segmentId: number;
}

/**
 * Every job: retried with exponential backoff; completed jobs are removed (a kept one would
 * block re-adding its id), the last failures are kept so they stay visible.
 */
export function defaultJobOptions(config: Pick<AppConfig, 'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS'>): JobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: 1000,
  };
}

/** Job ids, prefixed: Bull's own ids are numeric. */
export const jobId = {
  rollout: (job: RolloutJob) => `rollout:${job.segmentId}:${job.version}`,
  purge: (job: PurgeJob) => `purge:${job.segmentId}`,
};
