import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { SLUG_MAX_LENGTH, SLUG_PATTERN, SLUG_RULE } from '#libs/segments';
import { MAX_USER_ID } from '#libs/users';
import { IsPercent, Optional } from '#libs/http';
import { ArrayMaxSize, IsArray, IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { AreSlugs } from '../../http/params.js';
import { MAX_SLUGS_PER_REQUEST } from '../../users/dto/user-request.dto.js';
import { TtlSeconds } from '../../http/fields.js';

@ApiSchema({ name: 'CompatSlug' })
export class CompatSlugDto {
  @ApiProperty({ example: 'AVITO_VOICE_MESSAGES', pattern: SLUG_PATTERN.source, maxLength: SLUG_MAX_LENGTH })
  @IsString()
  @Matches(SLUG_PATTERN, { message: SLUG_RULE })
  slug: string;
}

@ApiSchema({ name: 'CompatCreateSegment' })
export class CompatCreateSegmentDto extends CompatSlugDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 100, example: 30, description: 'Share of users given the segment automatically' })
  @Optional()
  @IsPercent()
  user_percent?: number;
}

@ApiSchema({ name: 'CompatChangeUserSegments' })
export class CompatChangeUserSegmentsDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_USER_ID, example: 1000 })
  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id: number;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_SLUGS_PER_REQUEST, example: ['AVITO_VOICE_MESSAGES'] })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_SLUGS_PER_REQUEST)
  @AreSlugs()
  add_segments?: string[];

  @ApiPropertyOptional({ type: [String], maxItems: MAX_SLUGS_PER_REQUEST, example: ['AVITO_DISCOUNT_50'] })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_SLUGS_PER_REQUEST)
  @AreSlugs()
  delete_segments?: string[];

  @TtlSeconds({ example: 86400, description: 'Time-to-live of the added segments, in seconds' })
  ttl?: number;
}

@ApiSchema({ name: 'CompatUserId' })
export class CompatUserIdDto {
  @ApiProperty({ type: 'integer', example: 1 })
  user_id: number;
}

@ApiSchema({ name: 'CompatCreatedAt' })
export class CompatCreatedAtDto {
  @ApiProperty({ example: '2026-11-27T10:00:00.000Z' })
  created_at: Date;
}

@ApiSchema({ name: 'CompatMessage' })
export class CompatMessageDto {
  @ApiProperty({ example: 'ok' })
  message: string;
}

@ApiSchema({ name: 'CompatChangeResult' })
export class CompatChangeResultDto {
  @ApiProperty({ type: 'integer', example: 1 })
  segments_added: number;

  @ApiProperty({ type: 'integer', example: 0 })
  segments_deleted: number;
}

@ApiSchema({ name: 'CompatSlugItem' })
export class CompatSlugItemDto {
  @ApiProperty({ example: 'AVITO_VOICE_MESSAGES' })
  slug: string;
}

@ApiSchema({ name: 'CompatUserSegments' })
export class CompatUserSegmentsDto {
  @ApiProperty({ type: [CompatSlugItemDto] })
  segments: CompatSlugItemDto[];
}

@ApiSchema({ name: 'CompatReportLink' })
export class CompatReportLinkDto {
  @ApiProperty({ example: 'http://localhost:3000/reports/segment-history/eyJ5IjoyMDI2LCJtIjoxMX0.c2lnbmF0dXJl' })
  report_link: string;
}
