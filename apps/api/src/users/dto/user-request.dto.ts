import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath, ApiSchema } from '@nestjs/swagger';
import { SLUG_MAX_LENGTH, SLUG_PATTERN, SLUG_RULE } from '#libs/segments';
import { MAX_USER_ID } from '#libs/users';
import { plainToInstance, Transform, Type } from 'class-transformer';
import { IsAbsentWith, Optional } from '#libs/http';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { AreSlugs, IsUserIds } from '../../http/params.js';
import { FutureInstant, TtlSeconds } from '../../http/fields.js';

/** Most slugs one request may add or remove. */
export const MAX_SLUGS_PER_REQUEST = 1000;
export const MAX_BULK_USER_IDS = 100_000;

@ApiSchema({ name: 'RegisterUser' })
export class RegisterUserDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_USER_ID,
    example: 1000,
    description: 'Your own id for the user; omit it to get a new one',
  })
  @Optional()
  @IsInt()
  @Min(1)
  @Max(MAX_USER_ID)
  user_id?: number;
}

@ApiSchema({ name: 'BulkRegisterUsers' })
export class BulkRegisterUsersDto {
  @ApiProperty({ type: 'integer', isArray: true, minItems: 1, maxItems: MAX_BULK_USER_IDS, example: [1000, 1002, 1004] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_USER_IDS)
  @IsUserIds()
  user_ids: number[];
}

@ApiSchema({ name: 'AddSegmentItem' })
export class AddSegmentItemDto {
  @ApiProperty({ example: 'AVITO_DISCOUNT_30', pattern: SLUG_PATTERN.source, maxLength: SLUG_MAX_LENGTH })
  @IsString()
  @Matches(SLUG_PATTERN, { message: SLUG_RULE })
  slug: string;

  @TtlSeconds({ example: 86400, description: 'Membership lasts this many seconds' })
  ttl_seconds?: number;

  @FutureInstant({ example: '2030-01-31T12:00:00Z', description: 'Membership lasts until this instant (at most ten years ahead)' })
  @IsAbsentWith('ttl_seconds')
  expires_at?: string;
}

/** Bare slugs in `add` are shorthand for `{slug}` (objects are converted by @Type, which runs first). */
const slugsToItems = ({ value }: { value: unknown }) =>
  Array.isArray(value)
    ? value.map((item: unknown) => (typeof item === 'string' ? plainToInstance(AddSegmentItemDto, { slug: item }) : item))
    : value;

@ApiExtraModels(AddSegmentItemDto)
@ApiSchema({ name: 'ChangeUserSegments' })
export class ChangeUserSegmentsDto {
  @ApiPropertyOptional({
    type: 'array',
    maxItems: MAX_SLUGS_PER_REQUEST,
    items: { oneOf: [{ type: 'string', pattern: SLUG_PATTERN.source }, { $ref: getSchemaPath(AddSegmentItemDto) }] },
    example: ['AVITO_VOICE_MESSAGES', { slug: 'AVITO_DISCOUNT_30', ttl_seconds: 86400 }],
    description: 'Segments to add: slugs, or items with their own expiry',
  })
  @Optional()
  @Transform(slugsToItems)
  @IsArray()
  @ArrayMaxSize(MAX_SLUGS_PER_REQUEST)
  @ValidateNested({ each: true })
  @Type(() => AddSegmentItemDto)
  add?: AddSegmentItemDto[];

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_SLUGS_PER_REQUEST,
    example: ['AVITO_DISCOUNT_50'],
    description: 'Segments to remove',
  })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_SLUGS_PER_REQUEST)
  @AreSlugs()
  remove?: string[];

  @TtlSeconds({ example: 3600, description: 'Default time-to-live of the added segments, in seconds' })
  ttl_seconds?: number;
}

/** Most users one lookup may ask for. */
export const MAX_LOOKUP_USER_IDS = 1000;

@ApiSchema({ name: 'LookUpUsers' })
export class LookUpUsersDto {
  @ApiProperty({ type: 'integer', isArray: true, minItems: 1, maxItems: MAX_LOOKUP_USER_IDS, example: [1000, 1002, 31337] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LOOKUP_USER_IDS)
  @IsUserIds()
  user_ids: number[];
}
