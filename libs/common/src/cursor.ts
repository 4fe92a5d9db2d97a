import { ProblemException } from './problem.js';

/** Opaque pagination cursors: base64url of the last key of the previous page. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify([key]), 'utf8').toString('base64url');
}

export function decodeCursor<T extends string | number>(cursor: string, kind: 'string' | 'number'): T {
  try {
    const [key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof key === kind) return key as T;
  } catch {
    // Reported below like any other foreign value.
  }
  throw invalidCursor();
}

export function invalidCursor(): ProblemException {
  return ProblemException.validation([{ field: 'cursor', message: 'is not a cursor returned by this endpoint' }]);
}

/** A page of `limit` items plus the cursor of the next page, from a query that fetched `limit + 1` rows. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string | number): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
