import { ApiProperty, ApiPropertyOptional, OmitType, PartialType, ApiSchema } from '@nestjs/swagger';
import { SLUG_MAX_LENGTH, SLUG_PATTERN, SLUG_RULE } from '#libs/segments';
import { IsAbsentWith, IsPercent, IsTotalAtMost, Optional } from '#libs/http';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsUserIds } from '../../http/params.js';
import { FutureInstant, TtlSeconds } from '../../http/fields.js';

@ApiSchema({ name: 'CreateSegment' })
export class CreateSegmentDto {
  @ApiProperty({ example: 'AVITO_VOICE_MESSAGES', pattern: SLUG_PATTERN.source, maxLength: SLUG_MAX_LENGTH, description: 'Case-sensitive' })
  @IsString()
  @Matches(SLUG_PATTERN, { message: SLUG_RULE })
  slug: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 1000, example: 'Voice messages in chats' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  description?: string | null;

  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: 100,
    example: 30,
    description: 'Give the segment automatically to this share of users (up to two decimals); null for a manual-only segment',
  })
  @IsOptional()
  @IsPercent()
  auto_percent?: number | null;
}

@ApiSchema({ name: 'UpdateSegment' })
export class UpdateSegmentDto extends PartialType(OmitType(CreateSegmentDto, ['slug'] as const)) {}

/** Most user ids of one bulk membership change (add and remove together). */
export const MAX_MEMBER_IDS = 100_000;

@ApiSchema({ name: 'ChangeSegmentMembers' })
export class ChangeSegmentMembersDto {
  @ApiPropertyOptional({
    type: 'integer',
    isArray: true,
    maxItems: MAX_MEMBER_IDS,
    example: [1000, 1002],
    description: 'Users to add (unknown ones are registered); repeats count once',
  })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_MEMBER_IDS)
  @IsUserIds()
  add?: number[];

  @ApiPropertyOptional({ type: 'integer', isArray: true, maxItems: MAX_MEMBER_IDS, example: [1004], description: 'Users to remove' })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_MEMBER_IDS)
  @IsUserIds()
  @IsTotalAtMost('add', MAX_MEMBER_IDS)
  remove?: number[];

  @TtlSeconds({ example: 604800, description: 'The adds last this many seconds' })
  ttl_seconds?: number;

  @FutureInstant({ example: '2030-01-31T12:00:00Z', description: 'The adds last until this instant' })
  @IsAbsentWith('ttl_seconds')
  expires_at?: string;
}
