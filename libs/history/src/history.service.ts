import { Injectable } from '@nestjs/common';
import { cursorInteger, decodeCursor } from '#libs/common';
import { HistoryRepository } from './history.repository.js';
import type { HistoryEntry, MonthReportQuery } from './history.types.js';
import type { Readable } from 'node:stream';

export interface HistoryQuery {
  /** Inclusive lower bound of occurred_at. */
  from?: Date;
  /** Exclusive upper bound of occurred_at. */
  to?: Date;
  limit: number;
  cursor?: string;
}

/** Instants a history cursor may hold: what timestamptz(3) stores for this service (years 1970–9999). */
const CURSOR_INSTANT = /^(19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Position of an entry in (occurred_at, id) order, as a history cursor holds it. */
export const historyCursorKey = (entry: HistoryEntry): [string, number] => [entry.occurredAt.toISOString(), entry.id];

export function parseHistoryCursor(values: unknown[]): [Date, number] | undefined {
  const [at, id] = values;
  if (values.length !== 2 || typeof at !== 'string' || !CURSOR_INSTANT.test(at)) return undefined;
  const instant = new Date(at);
  const entryId = cursorInteger(id);
  if (Number.isNaN(instant.getTime()) || instant.toISOString() !== at || entryId === undefined) return undefined;
  return [instant, entryId];
}

/** Reads of the membership history: a user's pages and monthly reports. */
@Injectable()
export class HistoryService {
  constructor(private readonly history: HistoryRepository) {}

  /** One user's entries, newest first, `limit + 1` rows (see toPage with historyCursorKey). */
  userHistory(userId: number, query: HistoryQuery): Promise<HistoryEntry[]> {
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor, parseHistoryCursor);
    return this.history.userHistory(userId, { from: query.from, to: query.to, before, limit: query.limit + 1 });
  }

  /** The database clock that stamps history (what a report link's `asOf` is read from). */
  now(): Promise<Date> {
    return this.history.now();
  }

  /** The month's entries as CSV bytes, streamed by PostgreSQL (COPY). */
  copyMonth(query: MonthReportQuery): Promise<Readable> {
    return this.history.copyMonth(query);
  }
}
