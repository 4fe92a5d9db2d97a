import { Controller, Get, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '#libs/auth';
import { ApiProblems, RequireScope } from '#libs/http';
import { ReportsService } from '#libs/reports';
import { ReportLinkDto, ReportQueryDto } from './dto/report.dto.js';
import { REPORT_DOWNLOAD_PATH, reportUrl } from './report-url.js';
import { AppConfig } from '#libs/config';

@ApiTags('reports')
@Controller(REPORT_DOWNLOAD_PATH)
export class ReportsController {
  constructor(
    private readonly reports: ReportsService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'createSegmentHistoryReport',
    summary: 'Get a link to a monthly history report',
    description: 'Returns a link to the CSV of every membership change of the month (of one user, or of all users).',
  })
  @ApiOkResponse({ type: ReportLinkDto })
  @ApiProblems()
  async link(@Query() query: ReportQueryDto): Promise<ReportLinkDto> {
    const token = await this.reports.issue({ year: query.year, month: query.month, userId: query.user_id, format: 'csv' });
    return { report_url: reportUrl(this.config, token) };
  }

  @Get(':token')
  @Public()
  @ApiOperation({
    operationId: 'downloadSegmentHistoryReport',
    summary: 'Download a history report',
    description:
      'CSV (`;`-separated, header `user_id;segment;operation;occurred_at`), one line per change in time order, streamed. ' +
      'Shows the changes written before the link was issued, so a link to a closed month always gives the same content.',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'The CSV file', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiProblems([403, 'The report link was not issued by this service or was altered'], [410, 'The report link has expired'])
  async download(@Param('token') token: string): Promise<StreamableFile> {
    const report = this.reports.open(token);
    return new StreamableFile(await this.reports.stream(report), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="${this.reports.fileName(report)}"`,
    });
  }
}
