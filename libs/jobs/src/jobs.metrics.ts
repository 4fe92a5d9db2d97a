import { InjectQueue } from '@nestjs/bull';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { queryRows } from '#libs/database';
import { MetricsRefresh } from '#libs/observability';
import { QUEUE_NAME } from '#libs/queue';
import type { Job, Queue } from 'bull';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';

export const QUEUE_JOBS = 'queue_jobs';
export const JOB_DURATION = 'job_duration_seconds';
export const JOB_FAILURES = 'job_failures_total';
export const SEGMENTS = 'segments';
export const ROLLOUT_PROGRESS = 'segment_rollout_progress_ratio';

export const jobMetricProviders = [
  makeGaugeProvider({ name: QUEUE_JOBS, help: 'Jobs in the queue by state', labelNames: ['state'] }),
  makeHistogramProvider({
    name: JOB_DURATION,
    help: 'Job run time by job name',
    labelNames: ['job'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
  }),
  makeCounterProvider({ name: JOB_FAILURES, help: 'Failed job attempts by job name', labelNames: ['job'] }),
  makeGaugeProvider({ name: SEGMENTS, help: 'Segments by state (active, deleted and not yet purged)', labelNames: ['state'] }),
  makeGaugeProvider({ name: ROLLOUT_PROGRESS, help: 'Share of users processed by unfinished rollouts', labelNames: ['segment'] }),
];

/** Metrics of the background work: the worker process (or a single-process API) exports them. */
@Injectable()
export class JobsMetrics implements OnModuleInit {
  constructor(
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly refresh: MetricsRefresh,
    @InjectMetric(QUEUE_JOBS) private readonly queueJobs: Gauge,
    @InjectMetric(JOB_DURATION) private readonly duration: Histogram,
    @InjectMetric(JOB_FAILURES) private readonly failures: Counter,
    @InjectMetric(SEGMENTS) private readonly segments: Gauge,
    @InjectMetric(ROLLOUT_PROGRESS) private readonly rollouts: Gauge,
  ) {}

  onModuleInit(): void {
    this.refresh.register(() => this.refreshQueue());
    this.refresh.register(() => this.refreshSegments());
  }

  completed(job: Job): void {
    if (job.processedOn !== undefined && job.finishedOn !== undefined) {
      this.duration.observe({ job: job.name }, (job.finishedOn - job.processedOn) / 1000);
    }
  }

  failed(job: Job): void {
    this.failures.inc({ job: job.name });
  }

  private async refreshQueue(): Promise<void> {
    const counts = await this.queue.getJobCounts();
    for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) this.queueJobs.set({ state }, counts[state]);
  }

  private async refreshSegments(): Promise<void> {
    const [counts] = await queryRows<{ active: number; purging: number }>(
      this.dataSource.manager,
      `SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS active,
              count(*) FILTER (WHERE deleted_at IS NOT NULL AND purged_at IS NULL) AS purging
       FROM segments`,
    );
    this.segments.set({ state: 'active' }, counts!.active);
    this.segments.set({ state: 'purging' }, counts!.purging);
    const rollouts = await queryRows<{ slug: string; ratio: number }>(
      this.dataSource.manager,
      `SELECT slug, CASE WHEN coalesce(rollout_total, 0) = 0 THEN 0 ELSE least(1, rollout_processed::float8 / rollout_total) END AS ratio
       FROM segments WHERE rollout_state IN ('pending', 'running') AND deleted_at IS NULL`,
    );
    this.rollouts.reset();
    for (const rollout of rollouts) this.rollouts.set({ segment: rollout.slug }, rollout.ratio);
  }
}
