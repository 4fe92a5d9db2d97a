import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { queryRows } from '#libs/database';
import { DataSource, type EntityManager } from 'typeorm';

/** Serialises partition maintenance between processes (any fixed key). */
const PARTITION_LOCK_KEY = 7_180_245_002;
/** Months ahead of the current one that always have a partition. */
export const PARTITION_MONTHS_AHEAD = 3;

/** First instant (UTC) of the month `offset` months after the month of `at`. */
export function monthStart(at: Date, offset = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1));
}

export function partitionName(month: Date): string {
  return `membership_history_y${month.getUTCFullYear()}m${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * Keeps monthly partitions of membership_history ahead of time and drops those past the
 * retention. Runs on start and daily (maintenance job); any process may run it at any time.
 */
@Injectable()
export class HistoryPartitionsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(HistoryPartitionsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
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

  /**
   * Creates the partition of `month`. Rows that meanwhile landed in the default partition
   * for that month are moved into it, so creating a partition never fails.
   */
  async ensurePartition(month: Date): Promise<void> {
    const name = partitionName(month);
    await this.dataSource.transaction(async (manager) => {
      await this.lock(manager);
      const [{ exists }] = await queryRows<{ exists: boolean }>(manager, 'SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
      if (exists) return;
      const from = month.toISOString();
      const to = monthStart(month, 1).toISOString();
      await manager.query(`CREATE TABLE ${name} (LIKE membership_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await manager.query(
        `WITH moved AS (DELETE FROM membership_history_default WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *)
         INSERT INTO ${name} SELECT * FROM moved`,
        [from, to],
      );
      await manager.query(`ALTER TABLE membership_history ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`);
      this.logger.log(`Created history partition ${name}`);
    });
  }

  /** Drops the monthly partitions that end at or before `cutoff`. */
  async dropBefore(cutoff: Date): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      await this.lock(manager);
      const partitions = await queryRows<{ name: string }>(
        manager,
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'membership_history'::regclass AND c.relname ~ '^membership_history_y[0-9]{4}m[0-9]{2}$'`,
      );
      const dropped = partitions.map((row) => row.name).filter((name) => partitionMonthEnd(name) <= cutoff);
      for (const name of dropped) {
        await manager.query(`ALTER TABLE membership_history DETACH PARTITION ${name}`);
        await manager.query(`DROP TABLE ${name}`);
        this.logger.log(`Dropped history partition ${name} (retention)`);
      }
      return dropped;
    });
  }

  private async lock(manager: EntityManager): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY]);
  }
}

function partitionMonthEnd(name: string): Date {
  const [, year, month] = /y(\d{4})m(\d{2})$/.exec(name)!;
  return new Date(Date.UTC(Number(year), Number(month), 1));
}
