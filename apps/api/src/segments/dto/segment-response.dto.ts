import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { SegmentMember } from '#libs/memberships';
import type { RolloutState, Segment } from '#libs/segments';

@ApiSchema({ name: 'Segment' })
export class SegmentDto {
  @ApiProperty({ example: 'AVITO_VOICE_MESSAGES' })
  slug: string;

  @ApiProperty({ type: String, nullable: true, example: 'Voice messages in chats' })
  description: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 30 })
  auto_percent: number | null;

  @ApiProperty({ example: '2026-11-27T10:00:00.000Z' })
  created_at: Date;

  @ApiProperty({ example: '2026-11-27T10:00:00.000Z' })
  updated_at: Date;

  static from(segment: Segment): SegmentDto {
    return {
      slug: segment.slug,
      description: segment.description,
      auto_percent: segment.autoPercent,
      created_at: segment.createdAt,
      updated_at: segment.updatedAt,
    };
  }
}

@ApiSchema({ name: 'Rollout' })
export class RolloutDto {
  @ApiProperty({
    enum: ['pending', 'running', 'done', 'failed'],
    example: 'running',
    description: 'pending or running until the latest auto_percent change is applied to every registered user, then done',
  })
  state: RolloutState;

  @ApiProperty({ type: 'integer', description: 'Registered users processed so far', example: 250000 })
  processed: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Registered users when the rollout started', example: 1000000 })
  total: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why the rollout failed; change auto_percent to retry', example: null })
  error: string | null;

  static from(segment: Segment): RolloutDto | null {
    if (segment.rolloutState === null) return null;
    return { state: segment.rolloutState, processed: segment.rolloutProcessed, total: segment.rolloutTotal, error: segment.rolloutError };
  }
}

@ApiSchema({ name: 'SegmentDetails' })
export class SegmentDetailsDto extends SegmentDto {
  @ApiProperty({ type: 'integer', description: 'Users currently in the segment (expired memberships excluded)', example: 3 })
  member_count: number;

  @ApiProperty({ type: RolloutDto, nullable: true, description: 'Progress of the automatic assignment; null for a manual-only segment' })
  rollout: RolloutDto | null;
}

@ApiSchema({ name: 'SegmentPage' })
export class SegmentPageDto {
  @ApiProperty({ type: [SegmentDto] })
  items: SegmentDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' })
  next_cursor: string | null;
}

@ApiSchema({ name: 'SegmentMember' })
export class SegmentMemberDto {
  @ApiProperty({ type: 'integer', example: 1000 })
  user_id: number;

  @ApiProperty({ type: Date, nullable: true, example: null })
  expires_at: Date | null;

  @ApiProperty({ enum: ['manual', 'auto'], example: 'manual' })
  source: 'manual' | 'auto';

  static from(member: SegmentMember): SegmentMemberDto {
    return { user_id: member.userId, expires_at: member.expiresAt, source: member.source };
  }
}

@ApiSchema({ name: 'SegmentMemberPage' })
export class SegmentMemberPageDto {
  @ApiProperty({ type: [SegmentMemberDto] })
  items: SegmentMemberDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' })
  next_cursor: string | null;
}
