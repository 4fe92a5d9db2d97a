import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MembershipsModule } from '#libs/memberships';
import { QueueModule } from '#libs/queue';
import { SegmentsModule } from '#libs/segments';
import { Import, ImportRow } from './import.entity.js';
import { ImportsRepository } from './imports.repository.js';
import { importedIdsProvider, ImportsService } from './imports.service.js';

/** CSV imports of segment members: staging, state, and the chunked application the worker runs. */
@Module({
  imports: [TypeOrmModule.forFeature([Import, ImportRow]), QueueModule, SegmentsModule, MembershipsModule],
  providers: [ImportsService, ImportsRepository, importedIdsProvider],
  exports: [ImportsService],
})
export class ImportsModule {}
