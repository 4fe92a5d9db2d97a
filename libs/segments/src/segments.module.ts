import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { QueueModule } from '#libs/queue';
import { Segment } from './segment.entity.js';
import { SegmentsRepository } from './segments.repository.js';
import { SegmentsService } from './segments.service.js';

/** The segment catalogue. Its repository is exported for the modules whose statements join or lock segments. */
@Module({
  imports: [TypeOrmModule.forFeature([Segment]), QueueModule],
  providers: [SegmentsService, SegmentsRepository],
  exports: [SegmentsService, SegmentsRepository],
})
export class SegmentsModule {}
