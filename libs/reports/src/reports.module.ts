import { Module } from '@nestjs/common';
import { HistoryModule } from '#libs/history';
import { ReportLinks } from './report-links.js';
import { ReportsService } from './reports.service.js';

@Module({
  imports: [HistoryModule],
  providers: [ReportLinks, ReportsService],
  exports: [ReportsService],
})
export class ReportsModule {}
