import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { QueueModule } from '#libs/queue';
import { SegmentEntity } from './segment.entity.js';
import { SegmentsService } from './segments.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([SegmentEntity]), QueueModule],
  providers: [SegmentsService],
  exports: [SegmentsService],
})
export class SegmentsModule {}
