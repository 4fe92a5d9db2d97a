import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { MembershipChangeResult, UserSegment } from '#libs/memberships';

@ApiSchema({ name: 'UserId' })
export class UserIdDto {
  @ApiProperty({ type: 'integer', example: 1000 })
  user_id: number;
}

@ApiSchema({ name: 'BulkRegisterResult' })
export class BulkRegisterResultDto {
  @ApiProperty({ type: 'integer', description: 'Ids registered by this request', example: 2 })
  created: number;

  @ApiProperty({ type: 'integer', description: 'Ids that were already registered (duplicates counted once)', example: 1 })
  existing: number;
}

@ApiSchema({ name: 'UserSegment' })
export class UserSegmentDto {
  @ApiProperty({ example: 'AVITO_VOICE_MESSAGES' })
  slug: string;

  @ApiProperty({ type: Date, nullable: true, example: null, description: 'When the membership ends; null when permanent' })
  expires_at: Date | null;

  @ApiProperty({ enum: ['manual', 'auto'], example: 'manual', description: '`auto` when given by the percent rollout' })
  source: 'manual' | 'auto';

  static from(segment: UserSegment): UserSegmentDto {
    return { slug: segment.slug, expires_at: segment.expiresAt, source: segment.source };
  }
}

@ApiSchema({ name: 'UserSegments' })
export class UserSegmentsDto {
  @ApiProperty({ type: 'integer', example: 1000 })
  user_id: number;

  @ApiProperty({ type: [UserSegmentDto], description: 'Sorted by slug' })
  segments: UserSegmentDto[];
}

@ApiSchema({ name: 'ChangeUserSegmentsResult' })
export class ChangeUserSegmentsResultDto extends UserSegmentsDto {
  @ApiProperty({ type: [String], description: 'Slugs that became memberships by this request', example: ['AVITO_VOICE_MESSAGES'] })
  added: string[];

  @ApiProperty({ type: [String], description: 'Slugs that stopped being memberships by this request', example: [] })
  removed: string[];

  static from(result: MembershipChangeResult): ChangeUserSegmentsResultDto {
    return { user_id: result.userId, added: result.added, removed: result.removed, segments: result.segments.map(UserSegmentDto.from) };
  }
}

@ApiSchema({ name: 'UsersSegments' })
export class UsersSegmentsDto {
  @ApiProperty({ type: [UserSegmentsDto], description: 'One item per user asked for, in the order asked; unknown users have no segments' })
  items: UserSegmentsDto[];
}
