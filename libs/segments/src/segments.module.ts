import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { QueueModule } from '#libs/queue';
import { HeldSegmentsService } from './held-segments.service.js';
import { SegmentJobsService } from './segment-jobs.service.js';
import { Segment } from './segment.entity.js';
import { SegmentsRepository } from './segments.repository.js';
import { SegmentsService } from './segments.service.js';

/**
 * The segment catalogue. Its repository stays inside: the modules whose transactions hold
 * segments or drive their rollouts and purges use HeldSegmentsService and SegmentJobsService.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Segment]), QueueModule],
  providers: [SegmentsService, HeldSegmentsService, SegmentJobsService, SegmentsRepository],
  exports: [SegmentsService, HeldSegmentsService, SegmentJobsService],
})
export class SegmentsModule {}
