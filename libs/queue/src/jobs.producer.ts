import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger } from '@nestjs/common';
import { withTimeout } from '#libs/common';
import type { Queue } from 'bull';
import { jobId, JobName, QUEUE_NAME, type ImportJob, type PurgeJob, type RolloutJob } from './jobs.js';

/** How long a request waits for Redis before leaving the job to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 1000;

/**
 * Enqueues background work. Best effort by design: the state a job acts on is in
 * PostgreSQL, and the reconciler enqueues whatever is unfinished there, so a write never
 * fails because Redis is down (the job starts when Redis is back).
 */
@Injectable()
export class JobsProducer {
  private readonly logger = new Logger(JobsProducer.name);

  private lastErrorLog = 0;

  constructor(@InjectQueue(QUEUE_NAME) private readonly queue: Queue) {
    // Without a listener a Redis outage would be an unhandled 'error' event; log it at most every 10 s.
    queue.on('error', (error: Error) => {
      if (Date.now() - this.lastErrorLog < 10_000) return;
      this.lastErrorLog = Date.now();
      this.logger.warn(`Redis unavailable: ${error.message}`);
    });
  }

  rollout(job: RolloutJob): Promise<boolean> {
    return this.ensure(JobName.Rollout, jobId.rollout(job), job);
  }

  purge(job: PurgeJob): Promise<boolean> {
    return this.ensure(JobName.Purge, jobId.purge(job), job);
  }

  import(job: ImportJob): Promise<boolean> {
    return this.ensure(JobName.Import, jobId.import(job), job);
  }

  /**
   * Adds the job unless one with its id is waiting or running; a job with its id that
   * failed for good is retried. Returns false when Redis did not answer in time.
   */
  private async ensure(name: JobName, id: string, data: object): Promise<boolean> {
    try {
      await withTimeout(
        (async () => {
          const existing = await this.queue.getJob(id);
          if (existing && (await existing.isFailed())) await existing.retry();
          else if (!existing) await this.queue.add(name, data, { jobId: id });
        })(),
        ENQUEUE_TIMEOUT_MS,
        'Redis',
      );
      return true;
    } catch (error) {
      this.logger.warn(`Could not enqueue ${id} (${(error as Error).message}); the reconciler will`);
      return false;
    }
  }
}
