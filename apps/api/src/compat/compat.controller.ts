import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '#libs/auth';
import type { Caller } from '#libs/common';
import { ApiProblems, RequireScope, SlugListFields } from '#libs/http';
import { MembershipReadsService, MembershipRegistrationService, MembershipWritesService } from '#libs/memberships';
import { AppConfig } from '#libs/config';
import { ReportsService } from '#libs/reports';
import { SegmentsService } from '#libs/segments';
import { ReportMonthQueryDto } from '../reports/dto/report.dto.js';
import { reportUrl } from '../reports/report-url.js';
import { ParseUserIdPipe, ApiUserIdParam } from '../http/params.js';
import {
  CompatChangeResultDto,
  CompatChangeUserSegmentsDto,
  CompatCreatedAtDto,
  CompatCreateSegmentDto,
  CompatReportLinkDto,
  CompatMessageDto,
  CompatSlugDto,
  CompatUserIdDto,
  CompatUserSegmentsDto,
} from './dto/compat.dto.js';

/**
 * The routes of the service this one replaces, with their original request and response
 * shapes, mapped onto the same services as the current API.
 */
@ApiTags('compatibility')
@Controller()
export class CompatController {
  constructor(
    private readonly segments: SegmentsService,
    private readonly registration: MembershipRegistrationService,
    private readonly reads: MembershipReadsService,
    private readonly writes: MembershipWritesService,
    private readonly reports: ReportsService,
    private readonly config: AppConfig,
  ) {}

  @Post('user')
  @RequireScope('write')
  @ApiOperation({
    operationId: 'compatCreateUser',
    summary: 'Register a new user (original API)',
    description: 'Allocates a new user id.',
    deprecated: true,
  })
  @ApiCreatedResponse({ type: CompatUserIdDto })
  @ApiProblems()
  async createUser(): Promise<CompatUserIdDto> {
    return { user_id: await this.registration.registerNewUser() };
  }

  @Post('segment')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'compatCreateSegment',
    summary: 'Create a segment (original API)',
    description: 'Same as POST /segments.',
    deprecated: true,
  })
  @ApiCreatedResponse({ type: CompatCreatedAtDto })
  @ApiProblems(409)
  async createSegment(@Body() body: CompatCreateSegmentDto, @CurrentCaller() caller: Caller): Promise<CompatCreatedAtDto> {
    const segment = await this.segments.create({ slug: body.slug, autoPercent: body.user_percent }, caller);
    return { created_at: segment.createdAt };
  }

  @Delete('segment')
  @RequireScope('admin')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'compatDeleteSegment',
    summary: 'Delete a segment (original API)',
    description: 'Same as DELETE /segments/{slug}.',
    deprecated: true,
  })
  @ApiOkResponse({ type: CompatMessageDto })
  @ApiProblems(404)
  async deleteSegment(@Body() body: CompatSlugDto, @CurrentCaller() caller: Caller): Promise<CompatMessageDto> {
    await this.segments.delete(body.slug, caller);
    return { message: 'ok' };
  }

  @Post('segment/user')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'compatChangeUserSegments',
    summary: "Add and remove a user's segments (original API)",
    description: 'Same as PATCH /users/{user_id}/segments; the counts are of the segments that really changed.',
    deprecated: true,
  })
  @ApiOkResponse({ type: CompatChangeResultDto })
  @ApiProblems(413, 422)
  @SlugListFields({ add: 'add_segments', remove: 'delete_segments' })
  async changeUserSegments(@Body() body: CompatChangeUserSegmentsDto, @CurrentCaller() caller: Caller): Promise<CompatChangeResultDto> {
    const result = await this.writes.changeUserSegments(
      body.user_id,
      {
        add: (body.add_segments ?? []).map((slug) => ({ slug })),
        remove: body.delete_segments ?? [],
        ttlSeconds: body.ttl,
      },
      caller,
    );
    return { segments_added: result.added.length, segments_deleted: result.removed.length };
  }

  @Get('segment/user/:user_id')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'compatGetUserSegments',
    summary: "Get a user's segments (original API)",
    description: 'Same as GET /users/{user_id}/segments.',
    deprecated: true,
  })
  @ApiOkResponse({ type: CompatUserSegmentsDto })
  @ApiProblems()
  @ApiUserIdParam()
  async userSegments(@Param('user_id', ParseUserIdPipe) userId: number): Promise<CompatUserSegmentsDto> {
    const segments = await this.reads.userSegments(userId);
    return { segments: segments.map((segment) => ({ slug: segment.slug })) };
  }

  @Get('segment/history/:user_id')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'compatGetUserHistoryReport',
    summary: "Get a link to a user's monthly history report (original API)",
    description:
      'The link serves the original CSV format: comma-separated, header `user_id,segment_slug,operation,executed_at`, ' +
      'operation `I` (added) or `D` (deleted), time `YYYY-MM-DD HH:MM:SS` in UTC.',
    deprecated: true,
  })
  @ApiOkResponse({ type: CompatReportLinkDto })
  @ApiProblems()
  @ApiUserIdParam()
  async historyReport(
    @Param('user_id', ParseUserIdPipe) userId: number,
    @Query() query: ReportMonthQueryDto,
  ): Promise<CompatReportLinkDto> {
    const token = await this.reports.issue({ year: query.year, month: query.month, userId, format: 'legacy' });
    return { report_link: reportUrl(this.config, token) };
  }
}
