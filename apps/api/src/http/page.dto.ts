import { ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_CURSOR_LENGTH } from '#libs/common';
import { Optional, QueryInteger } from '#libs/http';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';

export const MAX_PAGE_SIZE = 1000;

/** `?limit&cursor` of every cursor-paginated list. */
export class PageQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 100, description: 'Page size' })
  @Optional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit: number = 100;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page' })
  @Optional()
  @IsString()
  @MaxLength(MAX_CURSOR_LENGTH)
  cursor?: string;
}
