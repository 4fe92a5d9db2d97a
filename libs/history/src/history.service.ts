import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { decodeCursor, invalidCursor } from '#libs/common';
import { queryRows } from '#libs/database';
import { DataSource } from 'typeorm';
import type { HistoryEntry } from './history.types.js';

export interface HistoryQuery {
  /** Inclusive lower bound of occurred_at. */
  from?: Date;
  /** Exclusive upper bound of occurred_at. */
  to?: Date;
  limit: number;
  cursor?: string;
}

/** Reads of the membership history. */
@Injectable()
export class HistoryService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One user's entries, newest first, `limit + 1` rows (see toPage with historyCursorKey). */
  async userHistory(userId: number, query: HistoryQuery): Promise<HistoryEntry[]> {
    const after = query.cursor === undefined ? null : decodeCursor<string>(query.cursor, 'string');
    const [beforeAt, beforeId] = after === null ? [null, null] : parseCursorKey(after);
    return queryRows<HistoryEntry>(
      this.dataSource.manager,
      `SELECT id, user_id AS "userId", segment_slug AS slug, operation, reason, occurred_at AS "occurredAt"
       FROM membership_history
       WHERE user_id = $1
         AND ($2::timestamptz IS NULL OR occurred_at >= $2)
         AND ($3::timestamptz IS NULL OR occurred_at < $3)
         AND ($4::timestamptz IS NULL OR (occurred_at, id) < ($4, $5::bigint))
       ORDER BY occurred_at DESC, id DESC
       LIMIT $6`,
      [userId, query.from ?? null, query.to ?? null, beforeAt, beforeId, query.limit + 1],
    );
  }
}

/** Cursor key of an entry: its position in (occurred_at, id) order. */
export function historyCursorKey(entry: HistoryEntry): string {
  return `${entry.occurredAt.toISOString()}|${entry.id}`;
}

function parseCursorKey(key: string): [Date, number] {
  const [at, id] = key.split('|');
  const date = new Date(at ?? '');
  if (Number.isNaN(date.getTime()) || !/^\d+$/.test(id ?? '')) throw invalidCursor();
  return [date, Number(id)];
}
