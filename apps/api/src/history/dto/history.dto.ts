import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { HistoryEntry } from '#libs/history';
import { IsInstant, Optional } from '#libs/http';
import { PageQueryDto } from '../../http/page.dto.js';

export class HistoryQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-01T00:00:00Z', description: 'Entries at or after this instant' })
  @Optional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T00:00:00Z', description: 'Entries before this instant' })
  @Optional()
  @IsInstant()
  to?: string;
}

@ApiSchema({ name: 'HistoryEntry' })
export class HistoryEntryDto {
  @ApiProperty({ type: 'integer', example: 1000 })
  user_id: number;

  @ApiProperty({ description: 'Slug of the segment at the time of the change', example: 'AVITO_VOICE_MESSAGES' })
  segment: string;

  @ApiProperty({ enum: ['add', 'remove'], example: 'add' })
  operation: 'add' | 'remove';

  @ApiProperty({ enum: ['manual', 'auto', 'ttl', 'segment_deleted'], example: 'manual' })
  reason: 'manual' | 'auto' | 'ttl' | 'segment_deleted';

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'checkout-service',
    description:
      'Who made the change: the name of the API token; `auto` for automatic assignment, `ttl` for expiry; ' +
      'null for changes recorded before actors were',
  })
  actor: string | null;

  @ApiProperty({ example: '2026-11-27T10:00:00.000Z' })
  occurred_at: Date;

  static from(entry: HistoryEntry): HistoryEntryDto {
    return {
      user_id: entry.userId,
      segment: entry.slug,
      operation: entry.operation,
      reason: entry.reason,
      actor: entry.actor,
      occurred_at: entry.occurredAt,
    };
  }
}

@ApiSchema({ name: 'HistoryPage' })
export class HistoryPageDto {
  @ApiProperty({ type: [HistoryEntryDto], description: 'Newest first' })
  items: HistoryEntryDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next (older) page; null on the last page' })
  next_cursor: string | null;
}
