import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { Import } from '#libs/imports';
import { IsIn } from 'class-validator';
import { TtlSeconds } from '../../http/fields.js';

const MODES = ['add', 'remove', 'replace'] as const;

export class ImportQueryDto {
  @ApiProperty({
    enum: MODES,
    description: "`add` the file's users, `remove` them, or `replace`: the segment's manual members become exactly the file's users",
  })
  @IsIn(MODES)
  mode: (typeof MODES)[number];

  @TtlSeconds({ example: 604800, description: 'The added memberships expire this long after the upload', query: true })
  ttl_seconds?: number;
}

@ApiSchema({ name: 'ImportBadLine' })
export class ImportBadLineDto {
  @ApiProperty({ type: 'integer', description: "The file's own line number, from 1 (a header is line 1)", example: 3 })
  line: number;

  @ApiProperty({ example: '"12a" is not a user id (1 … 9007199254740991)' })
  message: string;
}

@ApiSchema({ name: 'Import' })
export class ImportDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'AVITO_DISCOUNT_30' })
  segment: string;

  @ApiProperty({ enum: MODES })
  mode: (typeof MODES)[number];

  @ApiProperty({
    enum: ['running', 'done', 'failed'],
    description:
      '`running` while the job applies the file (it reads `done` once every change is applied); `failed` for a file with bad lines (nothing was changed) or a deleted segment',
  })
  state: 'running' | 'done' | 'failed';

  @ApiProperty({ type: 'integer', description: 'Lines of the file, a header included' })
  lines: number;

  @ApiProperty({ type: 'integer', description: 'Distinct user ids of the file' })
  total: number;

  @ApiProperty({ type: 'integer', description: 'Distinct user ids applied so far' })
  processed: number;

  @ApiProperty({ type: 'integer', description: 'Memberships that came' })
  added: number;

  @ApiProperty({ type: 'integer', description: 'Memberships that went' })
  removed: number;

  @ApiProperty({ type: Date, nullable: true, description: 'When the added memberships expire' })
  expires_at: Date | null;

  @ApiProperty({ type: [ImportBadLineDto], nullable: true, description: 'For a rejected file, its first bad lines (at most 20)' })
  bad_lines: ImportBadLineDto[] | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why a valid file could not be applied' })
  error: string | null;

  @ApiProperty()
  created_at: Date;

  @ApiProperty({ type: Date, nullable: true })
  finished_at: Date | null;

  static from(found: Import): ImportDto {
    return {
      id: found.id,
      segment: found.segment!.slug,
      mode: found.mode,
      state: found.state,
      lines: found.lines,
      total: found.total,
      processed: found.processed,
      added: found.added,
      removed: found.removed,
      expires_at: found.expiresAt,
      bad_lines: found.badLines,
      error: found.error,
      created_at: found.createdAt,
      finished_at: found.finishedAt,
    };
  }
}
