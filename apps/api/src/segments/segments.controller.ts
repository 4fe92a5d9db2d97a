import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { toPage } from '#libs/common';
import { CurrentCaller } from '#libs/auth';
import type { Caller } from '#libs/common';
import { ApiProblems, RequireScope } from '#libs/http';
import { memberCursorKey, MembershipReadsService, MembershipWritesService } from '#libs/memberships';
import { segmentCursorKey, SegmentsService } from '#libs/segments';
import { PageQueryDto } from '../http/page.dto.js';
import { ApiSlugParam, ParseSlugPipe } from '../http/params.js';
import { ChangeSegmentMembersDto, CreateSegmentDto, UpdateSegmentDto } from './dto/segment-request.dto.js';
import { SegmentMembersChangeDto } from './dto/segment-members-response.dto.js';
import {
  RolloutDto,
  SegmentDetailsDto,
  SegmentDto,
  SegmentMemberDto,
  SegmentMemberPageDto,
  SegmentPageDto,
} from './dto/segment-response.dto.js';

@ApiTags('segments')
@Controller('segments')
export class SegmentsController {
  constructor(
    private readonly segments: SegmentsService,
    private readonly reads: MembershipReadsService,
    private readonly writes: MembershipWritesService,
  ) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({ operationId: 'createSegment', summary: 'Create a segment', description: 'Slugs are unique among active segments.' })
  @ApiCreatedResponse({ type: SegmentDto })
  @ApiProblems(409)
  async create(@Body() body: CreateSegmentDto, @CurrentCaller() caller: Caller): Promise<SegmentDto> {
    const segment = await this.segments.create({ slug: body.slug, description: body.description, autoPercent: body.auto_percent }, caller);
    return SegmentDto.from(segment);
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({
    operationId: 'listSegments',
    summary: 'List segments',
    description: 'Active segments ordered by slug, cursor-paginated.',
  })
  @ApiOkResponse({ type: SegmentPageDto })
  @ApiProblems()
  async list(@Query() query: PageQueryDto): Promise<SegmentPageDto> {
    const rows = await this.segments.list(query.limit, query.cursor);
    const page = toPage(rows, query.limit, segmentCursorKey);
    return { items: page.items.map(SegmentDto.from), next_cursor: page.next_cursor };
  }

  @Get(':slug')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getSegment',
    summary: 'Get a segment',
    description: 'The segment with its current member count and the progress of its automatic assignment.',
  })
  @ApiOkResponse({ type: SegmentDetailsDto })
  @ApiProblems(404)
  @ApiSlugParam()
  async get(@Param('slug', ParseSlugPipe) slug: string): Promise<SegmentDetailsDto> {
    const segment = await this.segments.getBySlug(slug);
    return {
      ...SegmentDto.from(segment),
      member_count: await this.reads.countMembers(segment.id),
      rollout: RolloutDto.from(segment),
    };
  }

  @Patch(':slug')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'updateSegment',
    summary: 'Change a segment',
    description: 'Changes the description and/or the automatic percentage.',
  })
  @ApiOkResponse({ type: SegmentDto })
  @ApiProblems(404)
  @ApiSlugParam()
  async update(
    @Param('slug', ParseSlugPipe) slug: string,
    @Body() body: UpdateSegmentDto,
    @CurrentCaller() caller: Caller,
  ): Promise<SegmentDto> {
    const segment = await this.segments.update(slug, { description: body.description, autoPercent: body.auto_percent }, caller);
    return SegmentDto.from(segment);
  }

  @Delete(':slug')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'deleteSegment',
    summary: 'Delete a segment',
    description: 'The segment disappears from every read at once and its slug may be created again.',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiProblems(404)
  @ApiSlugParam()
  async delete(@Param('slug', ParseSlugPipe) slug: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.segments.delete(slug, caller);
  }

  @Get(':slug/users')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'listSegmentMembers',
    summary: 'List members of a segment',
    description: 'Current members by ascending user id, cursor-paginated.',
  })
  @ApiOkResponse({ type: SegmentMemberPageDto })
  @ApiProblems(404)
  @ApiSlugParam()
  async members(@Param('slug', ParseSlugPipe) slug: string, @Query() query: PageQueryDto): Promise<SegmentMemberPageDto> {
    const segment = await this.segments.getBySlug(slug);
    const rows = await this.reads.segmentMembers(segment.id, query.limit, query.cursor);
    const page = toPage(rows, query.limit, memberCursorKey);
    return { items: page.items.map(SegmentMemberDto.from), next_cursor: page.next_cursor };
  }

  @Post(':slug/members')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'changeSegmentMembers',
    summary: 'Add and remove users of a segment in bulk',
    description:
      'Up to 100 000 user ids, atomically: unknown users are registered, one history entry per real change, removals stick ' +
      'against automatic assignment. Answers how many memberships really came and went.',
  })
  @ApiOkResponse({ type: SegmentMembersChangeDto })
  @ApiProblems(404, 413)
  @ApiSlugParam()
  async changeMembers(
    @Param('slug', ParseSlugPipe) slug: string,
    @Body() body: ChangeSegmentMembersDto,
    @CurrentCaller() caller: Caller,
  ): Promise<SegmentMembersChangeDto> {
    return this.writes.changeSegmentMembers(
      slug,
      {
        add: body.add ?? [],
        remove: body.remove ?? [],
        ttlSeconds: body.ttl_seconds,
        expiresAt: body.expires_at === undefined ? undefined : new Date(body.expires_at),
      },
      caller,
    );
  }
}
