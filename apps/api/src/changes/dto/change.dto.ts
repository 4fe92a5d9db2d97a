import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { MAX_CURSOR_LENGTH } from '#libs/common';
import { feedCursorOf, type FeedEntry } from '#libs/history';
import { Optional, QueryInteger } from '#libs/http';
import { HistoryEntryDto } from '../../history/dto/history.dto.js';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';

/** Most entries of one page of the feed. */
export const MAX_FEED_PAGE = 10_000;

export class ChangesQueryDto {
  @ApiPropertyOptional({ description: 'The `cursor` of the last change you have; without it, the oldest retained change comes first' })
  @Optional()
  @IsString()
  @MaxLength(MAX_CURSOR_LENGTH)
  after?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_FEED_PAGE, default: 1000 })
  @Optional()
  @QueryInteger()
  @IsInt()
  @Min(1)
  @Max(MAX_FEED_PAGE)
  limit: number = 1000;
}

export class ChangesStreamQueryDto {
  @ApiPropertyOptional({ description: 'The `cursor` of the last change you have (a `Last-Event-ID` header wins over it)' })
  @Optional()
  @IsString()
  @MaxLength(MAX_CURSOR_LENGTH)
  after?: string;
}

/** A history entry with its position in the feed. */
@ApiSchema({ name: 'Change' })
export class ChangeDto extends HistoryEntryDto {
  @ApiProperty({ description: 'Position of this change in the feed; pass it as `after` to continue after it' })
  cursor: string;

  static override from(entry: FeedEntry): ChangeDto {
    return { cursor: feedCursorOf(entry), ...HistoryEntryDto.from(entry) };
  }
}

@ApiSchema({ name: 'ChangePage' })
export class ChangePageDto {
  @ApiProperty({ type: [ChangeDto], description: 'In feed order' })
  items: ChangeDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Where to continue: the cursor of the last item, or the `after` you gave when nothing new has committed yet (null then without one)',
  })
  next_cursor: string | null;
}
