import { describe, expect, it } from 'vitest';
import { monthStart, partitionMonthEnd, partitionName } from './history-partitions.service.js';
import { historyCursorKey, parseHistoryCursor } from './history.service.js';

describe('history cursors', () => {
  it('round-trips an entry position', () => {
    const entry = {
      id: 12,
      userId: 1,
      slug: 'S',
      operation: 'add' as const,
      reason: 'manual' as const,
      actor: 'ops',
      occurredAt: new Date('2026-11-01T10:00:00.123Z'),
    };
    expect(parseHistoryCursor(historyCursorKey(entry))).toEqual([entry.occurredAt, 12]);
  });

  it.each([
    [['2026-11-01T10:00:00.123Z', Number('123456789012345678901')]],
    [['2026-11-01T10:00:00.123Z', -1]],
    [['2026-11-01T10:00:00.123Z', 1.5]],
    [['275760-09-13T00:00:00.000Z', 1]],
    [['1900-01-01T00:00:00.000Z', 1]],
    [['2026-02-30T00:00:00.000Z', 1]],
    [['2026-11-01 10:00:00', 1]],
    [['\u0000', 1]],
    [[1, 1]],
    [['2026-11-01T10:00:00.123Z']],
  ])('rejects %j', (values) => {
    expect(parseHistoryCursor(values)).toBeUndefined();
  });
});

describe('history partitions', () => {
  it('names monthly partitions and their bounds', () => {
    const month = monthStart(new Date('2026-12-15T23:59:59Z'));
    expect(month.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(monthStart(month, 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(monthStart(month, -12).toISOString()).toBe('2025-12-01T00:00:00.000Z');
    expect(partitionName(month)).toBe('membership_history_y2026m12');
    expect(partitionMonthEnd('membership_history_y2026m12').toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});
