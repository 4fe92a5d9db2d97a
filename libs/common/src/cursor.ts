import { InvalidCursorError } from './errors.js';

/**
 * Opaque pagination cursors: base64url of a JSON array holding the key of the last item of
 * the previous page. Decoding checks every value with `parse`, so a cursor that was altered
 * or forged is an InvalidCursorError, never a value that reaches SQL.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Longest cursor accepted; every cursor this service issues is far shorter. */
export const MAX_CURSOR_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The key of `cursor`, as `parse` makes it from the decoded array (undefined: not a valid position). */
export function decodeCursor<T>(cursor: string, parse: (values: unknown[]) => T | undefined, parameter = 'cursor'): T {
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) throw new InvalidCursorError(parameter);
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(parameter);
  }
  const key = Array.isArray(values) ? parse(values) : undefined;
  if (key === undefined) throw new InvalidCursorError(parameter);
  return key;
}

/** Cursor parts: a whole number 0 … 2^53 − 1. */
export function cursorInteger(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
}

/** A page of `limit` items plus the cursor of the next page, from a query that fetched `limit + 1` rows. */
export function toPage<T>(
  rows: T[],
  limit: number,
  keyOf: (row: T) => readonly (string | number)[],
): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
