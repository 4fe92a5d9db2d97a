import { describe, expect, it } from 'vitest';
import { cursorInteger, decodeCursor, encodeCursor, toPage } from './cursor.js';
import { InvalidCursorError } from './errors.js';

const raw = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const integerKey = (values: unknown[]) => (values.length === 1 ? cursorInteger(values[0]) : undefined);

describe('cursors', () => {
  it('round-trips a key', () => {
    expect(decodeCursor(encodeCursor([42]), integerKey)).toBe(42);
    expect(decodeCursor(encodeCursor(['a', 7]), (values) => values)).toEqual(['a', 7]);
  });

  it.each([
    ['not base64url', '!!'],
    ['not JSON', raw('{')],
    ['not an array', raw('{"a":1}')],
    ['a fraction', raw('[1.5]')],
    ['an exponent beyond 2^53', raw('[1e21]')],
    ['a negative number', raw('[-1]')],
    ['a NUL string', raw('["\\u0000"]')],
    ['two values', raw('[1,2]')],
    ['an overlong cursor', 'A'.repeat(513)],
  ])('rejects %s', (_label, cursor) => {
    expect(() => decodeCursor(cursor, integerKey)).toThrow(InvalidCursorError);
  });

  it('names the parameter it rejects', () => {
    expect(() => decodeCursor('!', integerKey, 'after')).toThrow(expect.objectContaining({ parameter: 'after' }));
  });

  it('pages rows fetched with one extra', () => {
    expect(toPage([1, 2, 3], 2, (n) => [n])).toEqual({ items: [1, 2], next_cursor: encodeCursor([2]) });
    expect(toPage([1, 2], 2, (n) => [n])).toEqual({ items: [1, 2], next_cursor: null });
    expect(toPage([], 2, (n: number) => [n])).toEqual({ items: [], next_cursor: null });
  });
});
