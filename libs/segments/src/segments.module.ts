import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SegmentEntity } from './segment.entity.js';
import { SegmentsService } from './segments.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([SegmentEntity])],
  providers: [SegmentsService],
  exports: [SegmentsService],
})
export class SegmentsModule {}
