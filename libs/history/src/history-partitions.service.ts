import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { DataSource } from 'typeorm';
import { HistoryRepository } from './history.repository.js';

/** Months ahead of the current one that always have a partition. */
export const PARTITION_MONTHS_AHEAD = 3;

/** First instant (UTC) of the month `offset` months after the month of `at`. */
export function monthStart(at: Date, offset = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1));
}

export function partitionName(month: Date): string {
  return `membership_history_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The first instant after the month a partition name stands for. */
export function partitionMonthEnd(name: string): Date {
  const [, year, month] = /y(\d{4})m(\d{2})$/.exec(name)!;
  return new Date(Date.UTC(Number(year), Number(month), 1));
}

/**
 * Keeps monthly partitions of membership_history ahead of time and drops those past the
 * retention. Runs on start and every six hours (maintenance job); any process may run it at
 * any time (an advisory lock serialises them).
 */
@Injectable()
export class HistoryPartitionsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(HistoryPartitionsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly history: HistoryRepository,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.maintain();
  }

  /** Creates the partitions from last month to PARTITION_MONTHS_AHEAD ahead of `now`, and applies the retention. */
  async maintain(now = new Date()): Promise<void> {
    for (let offset = -1; offset <= PARTITION_MONTHS_AHEAD; offset++) await this.ensurePartition(monthStart(now, offset));
    if (this.config.HISTORY_RETENTION_MONTHS > 0) await this.dropBefore(monthStart(now, -this.config.HISTORY_RETENTION_MONTHS));
  }

  async ensurePartition(month: Date): Promise<void> {
    const name = partitionName(month);
    await this.dataSource.transaction(async (manager) => {
      await this.history.lockPartitions(manager);
      if (await this.history.partitionExists(manager, name)) return;
      await this.history.createPartition(manager, name, month, monthStart(month, 1));
      this.logger.log(`Created history partition ${name}`);
    });
  }

  /** Drops the monthly partitions that end at or before `cutoff`. */
  async dropBefore(cutoff: Date): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      await this.history.lockPartitions(manager);
      const dropped = (await this.history.monthlyPartitions(manager)).filter((name) => partitionMonthEnd(name) <= cutoff);
      for (const name of dropped) {
        await this.history.dropPartition(manager, name);
        this.logger.log(`Dropped history partition ${name} (retention)`);
      }
      return dropped;
    });
  }
}
