import type { AppConfig } from '#libs/config';
import { beforeEach, describe, expect, it } from 'vitest';
import { configOf, mockDataSource, mockOf } from '../../../test/support/mocks.js';
import {
  HistoryPartitionsService,
  monthStart,
  PARTITION_MONTHS_AHEAD,
  partitionMonthEnd,
  partitionName,
} from './history-partitions.service.js';
import type { HistoryRepository } from './history.repository.js';

const NOW = new Date('2026-01-20T12:00:00Z');

describe('history partition names', () => {
  it('start months in UTC, across year ends', () => {
    expect(monthStart(NOW)).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(monthStart(NOW, -1)).toEqual(new Date('2025-12-01T00:00:00Z'));
    expect(monthStart(NOW, 12)).toEqual(new Date('2027-01-01T00:00:00Z'));
    expect(monthStart(new Date('2026-03-31T23:59:59.999Z'))).toEqual(new Date('2026-03-01T00:00:00Z'));
  });

  it('name a month and give back its end', () => {
    expect(partitionName(new Date('2026-02-01T00:00:00Z'))).toBe('membership_history_y2026m02');
    expect(partitionMonthEnd('membership_history_y2026m02')).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(partitionMonthEnd('membership_history_y2025m12')).toEqual(new Date('2026-01-01T00:00:00Z'));
  });
});

describe(HistoryPartitionsService.name, () => {
  let sut: HistoryPartitionsService;
  let history: ReturnType<typeof mockOf<HistoryRepository>>;
  let db: ReturnType<typeof mockDataSource>;
  let retention: number;

  beforeEach(() => {
    db = mockDataSource();
    history = mockOf<HistoryRepository>('lockPartitions', 'partitionExists', 'createPartition', 'monthlyPartitions', 'dropPartition');
    history.partitionExists.mockResolvedValue(false);
    history.monthlyPartitions.mockResolvedValue([]);
    retention = 0;
    sut = new HistoryPartitionsService(
      db.dataSource,
      history,
      configOf<AppConfig>({
        get HISTORY_RETENTION_MONTHS() {
          return retention;
        },
      }),
    );
  });

  it('creates a missing partition under the partitions lock, for exactly its month', async () => {
    await sut.ensurePartition(new Date('2026-12-01T00:00:00Z'));
    expect(history.lockPartitions).toHaveBeenCalledWith(db.manager);
    expect(history.createPartition).toHaveBeenCalledExactlyOnceWith(
      db.manager,
      'membership_history_y2026m12',
      new Date('2026-12-01T00:00:00Z'),
      new Date('2027-01-01T00:00:00Z'),
    );
  });

  it('leaves an existing partition alone', async () => {
    history.partitionExists.mockResolvedValue(true);
    await sut.ensurePartition(new Date('2026-12-01T00:00:00Z'));
    expect(history.partitionExists).toHaveBeenCalledWith(db.manager, 'membership_history_y2026m12');
    expect(history.createPartition).not.toHaveBeenCalled();
  });

  it('keeps partitions from last month to three months ahead, and drops nothing without a retention', async () => {
    await sut.maintain(NOW);
    expect(history.createPartition.mock.calls.map((call) => call[1])).toEqual([
      'membership_history_y2025m12',
      'membership_history_y2026m01',
      'membership_history_y2026m02',
      'membership_history_y2026m03',
      'membership_history_y2026m04',
    ]);
    expect(PARTITION_MONTHS_AHEAD).toBe(3);
    expect(history.monthlyPartitions).not.toHaveBeenCalled();
  });

  it('drops, with a retention, the partitions that end at or before its first month', async () => {
    retention = 2;
    history.partitionExists.mockResolvedValue(true);
    history.monthlyPartitions.mockResolvedValue([
      'membership_history_y2025m10',
      'membership_history_y2025m11',
      'membership_history_y2025m12',
      'membership_history_y2026m01',
    ]);
    await sut.maintain(NOW);
    // Retention of 2 months in January 2026 keeps November 2025 on.
    expect(history.dropPartition.mock.calls.map((call) => call[1])).toEqual(['membership_history_y2025m10']);
  });

  it('dropBefore returns what it dropped, each in the locked transaction', async () => {
    history.monthlyPartitions.mockResolvedValue([
      'membership_history_y2025m01',
      'membership_history_y2025m02',
      'membership_history_y2025m03',
    ]);
    await expect(sut.dropBefore(new Date('2025-03-01T00:00:00Z'))).resolves.toEqual([
      'membership_history_y2025m01',
      'membership_history_y2025m02',
    ]);
    expect(history.lockPartitions).toHaveBeenCalledOnce();
    expect(history.dropPartition).toHaveBeenCalledWith(db.manager, 'membership_history_y2025m02');
  });
});
