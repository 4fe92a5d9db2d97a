import { InjectQueue } from '@nestjs/bull';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { MetricsRefresh } from '#libs/observability';
import { ImportsService } from '#libs/imports';
import { QUEUE_NAME } from '#libs/queue';
import { SegmentJobsService } from '#libs/segments';
import type { Job, Queue } from 'bull';
import type { Counter, Gauge, Histogram } from 'prom-client';

export const QUEUE_JOBS = 'queue_jobs';
export const JOB_DURATION = 'job_duration_seconds';
export const JOB_FAILURES = 'job_failures_total';
export const SEGMENTS = 'segments';
export const ROLLOUT_PROGRESS = 'segment_rollout_progress_ratio';
export const IMPORTS = 'imports';

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
  makeGaugeProvider({ name: IMPORTS, help: 'CSV imports by state', labelNames: ['state'] }),
];

/** Metrics of the background work: the worker process (or a single-process API) exports them. */
@Injectable()
export class JobsMetrics implements OnModuleInit {
  constructor(
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
    private readonly segmentJobs: SegmentJobsService,
    private readonly refresh: MetricsRefresh,
    @InjectMetric(QUEUE_JOBS) private readonly queueJobs: Gauge,
    @InjectMetric(JOB_DURATION) private readonly duration: Histogram,
    @InjectMetric(JOB_FAILURES) private readonly failures: Counter,
    @InjectMetric(SEGMENTS) private readonly segments: Gauge,
    @InjectMetric(ROLLOUT_PROGRESS) private readonly rollouts: Gauge,
    @InjectMetric(IMPORTS) private readonly imports: Gauge,
    private readonly importsService: ImportsService,
  ) {}

  onModuleInit(): void {
    this.refresh.register(() => this.refreshQueue());
    this.refresh.register(() => this.refreshSegments());
    this.refresh.register(() => this.refreshImports());
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
    const counts = await this.segmentJobs.stateCounts();
    this.segments.set({ state: 'active' }, counts.active);
    this.segments.set({ state: 'purging' }, counts.purging);
    const rollouts = await this.segmentJobs.rolloutRatios();
    this.rollouts.reset();
    for (const rollout of rollouts) this.rollouts.set({ segment: rollout.slug }, rollout.ratio);
  }

  private async refreshImports(): Promise<void> {
    const counts = new Map((await this.importsService.stateCounts()).map((row) => [row.state, row.count]));
    for (const state of ['running', 'done', 'failed']) this.imports.set({ state }, counts.get(state) ?? 0);
  }
}
