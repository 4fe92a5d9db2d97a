import { describe, expect, it } from 'vitest';
import { feedCursorOf, parseFeedCursor } from './change-feed.service.js';

describe('change-feed cursors', () => {
  it('carry the transaction id as a string, so no xid8 loses precision', () => {
    const position = { xid: '18446744073709551615', id: 9_007_199_254_740_991 };
    const values = JSON.parse(Buffer.from(feedCursorOf(position), 'base64url').toString()) as unknown[];
    expect(values).toEqual(['18446744073709551615', 9_007_199_254_740_991]);
    expect(parseFeedCursor(values)).toEqual(position);
  });

  it('normalise the transaction id (leading zeros)', () => {
    expect(parseFeedCursor(['007', 1])).toEqual({ xid: '7', id: 1 });
  });

  it.each([
    ['one value', ['1']],
    ['three values', ['1', 1, 1]],
    ['a numeric xid', [1, 1]],
    ['a negative xid', ['-1', 1]],
    ['an xid beyond 2^64', ['18446744073709551616', 1]],
    ['an xid of 21 digits', ['000000000000000000001', 1]],
    ['a fractional id', ['1', 1.5]],
    ['a negative id', ['1', -1]],
    ['an id beyond 2^53', ['1', 2 ** 53]],
    ['a string id', ['1', '1']],
  ])('refuse %s', (_label, values) => {
    expect(parseFeedCursor(values)).toBeUndefined();
  });
});
