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
  /** Apply a staged CSV import of segment members, in chunks. */
  Import: 'segment.import',
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

export interface ImportJob extends TracedJob {
  importId: string;
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

/**
 * Recovery from a dead worker: a worker renews the lock of the job it runs every 5 s; a job
 * whose worker died (kill -9) has its lock expire after 15 s, and every worker checks for such
 * stalled jobs every 10 s, so another worker resumes it within about 25 s (the job continues
 * from its last committed chunk). A job may stall this often before Bull fails it.
 */
export const QUEUE_SETTINGS = { lockDuration: 15_000, lockRenewTime: 5_000, stalledInterval: 10_000, maxStalledCount: 10 };

/**
 * Reconnection to Redis: retry every 250 ms, backing off to at most 2 s (ioredis' default
 * grows to 20 s), so a process notices Redis is back within 2 s.
 */
export function redisRetryDelay(attempt: number): number {
  return Math.min(attempt * 250, 2000);
}

/** Job ids, prefixed: Bull's own ids are numeric. */
export const jobId = {
  rollout: (job: RolloutJob) => `rollout:${job.segmentId}:${job.version}`,
  purge: (job: PurgeJob) => `purge:${job.segmentId}`,
  import: (job: ImportJob) => `import:${job.importId}`,
};
