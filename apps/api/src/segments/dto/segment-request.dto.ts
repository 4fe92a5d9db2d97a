import { ApiProperty, ApiPropertyOptional, OmitType, PartialType, ApiSchema } from '@nestjs/swagger';
import { SLUG_MAX_LENGTH, SLUG_PATTERN, SLUG_RULE } from '#libs/segments';
import { IsPercent } from '#libs/http';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

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
