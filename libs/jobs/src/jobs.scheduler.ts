import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '#libs/config';
import { JobName, JobsProducer, QUEUE_NAME } from '#libs/queue';
import { ImportsService } from '#libs/imports';
import { SegmentJobsService } from '#libs/segments';
import type { Queue } from 'bull';

/** Every six hours: partitions ahead and retention. */
const HISTORY_MAINTENANCE_CRON = '0 */6 * * *';

/**
 * Keeps the background work going whatever happened to Redis: every RECONCILE_INTERVAL_MS
 * it (re)creates the repeatable jobs and enqueues the rollouts, purges and imports that
 * PostgreSQL says are unfinished. Job ids make this idempotent across ticks and worker replicas.
 */
@Injectable()
export class JobsScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobsScheduler.name);
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
    private readonly producer: JobsProducer,
    private readonly segments: SegmentJobsService,
    private readonly imports: ImportsService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.config.RECONCILE_INTERVAL_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One reconciliation; skipped while the previous one still waits (e.g. for Redis). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.ensureRepeatables();
      const work = await this.segments.unfinishedWork();
      for (const rollout of work.rollouts) await this.producer.rollout(rollout);
      for (const segmentId of work.purges) await this.producer.purge({ segmentId });
      for (const importId of await this.imports.unfinished()) await this.producer.import({ importId });
    } catch (error) {
      this.logger.warn(`Reconciliation failed: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private async ensureRepeatables(): Promise<void> {
    const wanted = [
      { name: JobName.ExpireMemberships, repeat: { every: this.config.EXPIRY_SWEEP_INTERVAL_MS } },
      { name: JobName.MaintainHistory, repeat: { cron: HISTORY_MAINTENANCE_CRON } },
    ];
    const existing = await this.queue.getRepeatableJobs();
    for (const job of existing) {
      const current = wanted.find((want) => want.name === job.name);
      const same = current && ('every' in current.repeat ? Number(job.every) === current.repeat.every : job.cron === current.repeat.cron);
      if (!same) await this.queue.removeRepeatableByKey(job.key);
    }
    for (const { name, repeat } of wanted) await this.queue.add(name, {}, { repeat, jobId: name });
  }
}
