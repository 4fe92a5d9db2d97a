import { Module } from '@nestjs/common';
import { ReportLinks } from './report-links.js';
import { ReportsService } from './reports.service.js';

@Module({
  providers: [ReportLinks, ReportsService],
  exports: [ReportsService],
})
export class ReportsModule {}
