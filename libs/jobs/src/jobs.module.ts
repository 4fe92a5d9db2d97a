import { Module } from '@nestjs/common';
import { HistoryModule } from '#libs/history';
import { ImportsModule } from '#libs/imports';
import { MembershipsModule } from '#libs/memberships';
import { QueueModule } from '#libs/queue';
import { SegmentsModule } from '#libs/segments';
import { JobsMetrics, jobMetricProviders } from './jobs.metrics.js';
import { JobsProcessor } from './jobs.processor.js';
import { JobsScheduler } from './jobs.scheduler.js';

/** The processors and the scheduler: mounted by the worker (and by the API in single-process mode). */
@Module({
  imports: [QueueModule, SegmentsModule, MembershipsModule, HistoryModule, ImportsModule],
  providers: [JobsProcessor, JobsScheduler, JobsMetrics, ...jobMetricProviders],
  exports: [JobsScheduler],
})
export class JobsModule {}
