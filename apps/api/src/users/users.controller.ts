import { Body, Controller, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '#libs/auth';
import type { Caller } from '#libs/common';
import { ApiProblems, RequireScope } from '#libs/http';
import { MembershipReadsService, MembershipRegistrationService, MembershipWritesService } from '#libs/memberships';
import type { FastifyReply } from 'fastify';
import { ParseUserIdPipe, ApiUserIdParam } from '../http/params.js';
import { BulkRegisterUsersDto, ChangeUserSegmentsDto, LookUpUsersDto, RegisterUserDto } from './dto/user-request.dto.js';
import {
  BulkRegisterResultDto,
  ChangeUserSegmentsResultDto,
  UserIdDto,
  UserSegmentDto,
  UserSegmentsDto,
  UsersSegmentsDto,
} from './dto/user-response.dto.js';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(
    private readonly registration: MembershipRegistrationService,
    private readonly reads: MembershipReadsService,
    private readonly writes: MembershipWritesService,
  ) {}

  @Post()
  @RequireScope('write')
  @ApiOperation({
    operationId: 'registerUser',
    summary: 'Register a user',
    description: 'Registers the user under your id (201, or 200 when already registered), or under a new id when `user_id` is omitted.',
  })
  @ApiCreatedResponse({ type: UserIdDto, description: 'Registered' })
  @ApiOkResponse({ type: UserIdDto, description: 'Already registered' })
  @ApiProblems()
  async register(@Body() body: RegisterUserDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<UserIdDto> {
    if (body.user_id === undefined) return { user_id: await this.registration.registerNewUser() };
    const created = await this.registration.registerUser(body.user_id);
    if (!created) void reply.status(200);
    return { user_id: body.user_id };
  }

  @Post('bulk')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({ operationId: 'registerUsers', summary: 'Register many users', description: 'Registers up to 100 000 ids at once.' })
  @ApiOkResponse({ type: BulkRegisterResultDto })
  @ApiProblems(413)
  async registerMany(@Body() body: BulkRegisterUsersDto): Promise<BulkRegisterResultDto> {
    return this.registration.registerUsers(body.user_ids);
  }

  @Post('segments/lookup')
  @RequireScope('read')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'lookUpUsersSegments',
    summary: "Get many users' segments",
    description: 'The segments of up to 1 000 users in one call, in the order asked; unknown users have none.',
  })
  @ApiOkResponse({ type: UsersSegmentsDto })
  @ApiProblems()
  async lookUp(@Body() body: LookUpUsersDto): Promise<UsersSegmentsDto> {
    const found = await this.reads.lookUp(body.user_ids);
    return { items: found.map(({ userId, segments }) => ({ user_id: userId, segments: segments.map(UserSegmentDto.from) })) };
  }

  @Get(':user_id/segments')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getUserSegments',
    summary: "Get a user's segments",
    description: 'Current segments sorted by slug; an unknown user has none.',
  })
  @ApiOkResponse({ type: UserSegmentsDto })
  @ApiProblems()
  @ApiUserIdParam()
  async segments(@Param('user_id', ParseUserIdPipe) userId: number): Promise<UserSegmentsDto> {
    const segments = await this.reads.userSegments(userId);
    return { user_id: userId, segments: segments.map(UserSegmentDto.from) };
  }

  @Patch(':user_id/segments')
  @RequireScope('write')
  @ApiOperation({
    operationId: 'changeUserSegments',
    summary: "Add and remove a user's segments",
    description:
      'Atomic: when any slug is unknown nothing is applied. Re-adding a segment keeps it and sets its expiry to what this request says. Registers the user when new.',
  })
  @ApiOkResponse({ type: ChangeUserSegmentsResultDto })
  @ApiProblems(413, 422)
  @ApiUserIdParam()
  async change(
    @Param('user_id', ParseUserIdPipe) userId: number,
    @Body() body: ChangeUserSegmentsDto,
    @CurrentCaller() caller: Caller,
  ): Promise<ChangeUserSegmentsResultDto> {
    const result = await this.writes.changeUserSegments(
      userId,
      {
        add: (body.add ?? []).map((item) => ({
          slug: item.slug,
          ttlSeconds: item.ttl_seconds,
          expiresAt: item.expires_at === undefined ? undefined : new Date(item.expires_at),
        })),
        remove: body.remove ?? [],
        ttlSeconds: body.ttl_seconds,
      },
      caller,
    );
    return ChangeUserSegmentsResultDto.from(result);
  }
}
