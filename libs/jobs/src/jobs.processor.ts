import { OnQueueCompleted, OnQueueFailed, Process, Processor } from '@nestjs/bull';
import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { HistoryPartitionsService } from '#libs/history';
import { MembershipExpiryService, MembershipRolloutService, SegmentPurgeService } from '#libs/memberships';
import { ImportsService } from '#libs/imports';
import { JobName, QUEUE_NAME, type ImportJob, type PurgeJob, type RolloutJob } from '#libs/queue';
import { SegmentJobsService } from '#libs/segments';
import type { Job } from 'bull';
import { JobsMetrics } from './jobs.metrics.js';

/**
 * The Bull processors: thin, each delegating to the service that owns the work. Long jobs
 * work in committed chunks and stop between two chunks when the process shuts down; the
 * reconciler re-enqueues what is unfinished, so a restart loses no work.
 */
@Processor(QUEUE_NAME)
export class JobsProcessor implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobsProcessor.name);
  private stopping = false;

  constructor(
    private readonly rollouts: MembershipRolloutService,
    private readonly purges: SegmentPurgeService,
    private readonly expiry: MembershipExpiryService,
    private readonly partitions: HistoryPartitionsService,
    private readonly segments: SegmentJobsService,
    private readonly imports: ImportsService,
    private readonly metrics: JobsMetrics,
  ) {}

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  @Process(JobName.Rollout)
  async rollout(job: Job<RolloutJob>): Promise<string> {
    this.logStart(job);
    return this.rollouts.run(job.data.segmentId, job.data.version, this.shouldStop);
  }

  @Process(JobName.Purge)
  async purge(job: Job<PurgeJob>): Promise<boolean> {
    this.logStart(job);
    return this.purges.run(job.data.segmentId, this.shouldStop);
  }

  @Process(JobName.Import)
  async import(job: Job<ImportJob>): Promise<string> {
    this.logStart(job);
    return this.imports.run(job.data.importId, this.shouldStop);
  }

  @Process(JobName.ExpireMemberships)
  async expire(): Promise<number> {
    return this.expiry.sweep(this.shouldStop);
  }

  @Process(JobName.MaintainHistory)
  async maintainHistory(): Promise<void> {
    await this.partitions.maintain();
  }

  @OnQueueCompleted()
  completed(job: Job, result: unknown): void {
    this.metrics.completed(job);
    if (job.name === JobName.Rollout || job.name === JobName.Purge || job.name === JobName.Import)
      this.logger.log({ jobId: job.id, job: job.name, result }, 'Job completed');
  }

  @OnQueueFailed()
  async failed(job: Job, error: Error): Promise<void> {
    this.metrics.failed(job);
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    this.logger.warn(
      { jobId: job.id, job: job.name, requestId: job.data?.requestId, attempt: job.attemptsMade, final, err: error },
      'Job failed',
    );
    if (final && job.name === JobName.Rollout) {
      const { segmentId, version } = job.data as RolloutJob;
      await this.segments.failRollout(segmentId, version, error.message);
    }
    if (final && job.name === JobName.Import) await this.imports.fail((job.data as ImportJob).importId, error.message);
  }

  private readonly shouldStop = () => this.stopping;

  private logStart(job: Job<RolloutJob | PurgeJob | ImportJob>): void {
    this.logger.log({ jobId: job.id, job: job.name, requestId: job.data.requestId, attempt: job.attemptsMade + 1 }, 'Job started');
  }
}
