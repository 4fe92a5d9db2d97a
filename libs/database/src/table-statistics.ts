import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { EntityManager, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { DataSource } from 'typeorm';
import { queryRows } from './query.js';

/** Tables whose statistics the hot paths' plans depend on (history: the change feed's, whose batches the relay stamps). */
export type AnalyzedTable = 'users' | 'memberships' | 'segments' | 'membership_history';

/**
 * Changed rows that trigger a pass: a tenth of the table (as autovacuum's default), and at
 * least this many. The segment catalogue is small and read by every hot query, so any change
 * to it counts (without statistics the planner takes 20 segments for one and loops over them).
 */
const MIN_CHANGES: Record<AnalyzedTable, number> = { users: 1_000, memberships: 1_000, segments: 1, membership_history: 10_000 };

/**
 * The pass each table gets: the hot read's tables are vacuumed too (its index-only scan needs
 * the visibility map); history only needs statistics (a feed page planned on statistics from
 * before the relay stamped its batches sorted millions of rows), and vacuuming its millions of
 * rows after every campaign would cost more than it gives.
 */
const PASS: Record<AnalyzedTable, string> = {
  users: 'VACUUM (ANALYZE, SKIP_LOCKED) users',
  memberships: 'VACUUM (ANALYZE, SKIP_LOCKED) memberships',
  segments: 'VACUUM (ANALYZE, SKIP_LOCKED) segments',
  membership_history: 'ANALYZE (SKIP_LOCKED) membership_history',
};
const SHARE = 0.1;

/**
 * A transaction that changed at least this many rows of a table is a bulk change (a chunk of a
 * rollout or an import, a bulk registration, a purge or sweep batch; a batch of PATCHes stays
 * below it). Once a table has had no bulk change for SETTLE_MS, it gets a closing pass whatever
 * the share changed: the last chunks of a rollout are often below a tenth of the table, and a
 * pass that ran while the bulk work was still writing could not mark its newest pages
 * all-visible, so the hot read would visit the heap for them until the next tenth.
 */
const BULK_ROWS = 1_000;
const SETTLE_MS = 1_000;

const UNCOMMITTED = Symbol('tableChanges');
type Uncommitted = { [UNCOMMITTED]?: Map<AnalyzedTable, number> };

const ROW_ESTIMATE = 'SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE oid = $1::regclass';

/**
 * Keeps planner statistics and the visibility map as fresh as the service's own changes: bulk
 * registration, rollouts, purges, sweeps and requests report how many rows they changed, and
 * once a table has changed by a tenth of its rows since its last pass, this process runs
 * `VACUUM (ANALYZE)` on it in the background (one at a time per table; skipped when another
 * process is at it). Autovacuum may be off or late after bulk loads: without statistics the
 * planner misreads the hot queries, and without the visibility map the hot read's index-only
 * scan visits the heap anyway. After bulk changes a table also gets a closing pass (see
 * BULK_ROWS). The prepared statements of the hot paths are replanned once statistics change.
 * Changes count once their transaction has committed.
 */
@Injectable()
export class TableStatistics implements EntitySubscriberInterface, OnApplicationShutdown {
  private readonly logger = new Logger(TableStatistics.name);
  private readonly pending = new Map<AnalyzedTable, number>();
  private readonly estimates = new Map<AnalyzedTable, number>();
  private readonly analyzing = new Set<AnalyzedTable>();
  private readonly settling = new Map<AnalyzedTable, NodeJS.Timeout>();
  private readonly settled = new Set<AnalyzedTable>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    dataSource.subscribers.push(this);
  }

  /** `rows` rows of `table` changed in `manager`'s transaction (counted when it commits). */
  changed(manager: EntityManager, table: AnalyzedTable, rows: number): void {
    if (rows <= 0) return;
    const runner = manager.queryRunner;
    if (!runner?.isTransactionActive) return this.committed(table, rows);
    const changes = ((runner.data as Uncommitted)[UNCOMMITTED] ??= new Map());
    changes.set(table, (changes.get(table) ?? 0) + rows);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    for (const [table, rows] of this.take(event)) this.committed(table, rows);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    this.take(event);
  }

  private take(event: TransactionCommitEvent | TransactionRollbackEvent): Map<AnalyzedTable, number> {
    const data = event.queryRunner.data as Uncommitted;
    const changes = data[UNCOMMITTED] ?? new Map<AnalyzedTable, number>();
    delete data[UNCOMMITTED];
    return changes;
  }

  onApplicationShutdown(): void {
    for (const timer of this.settling.values()) clearTimeout(timer);
    this.settling.clear();
  }

  private committed(table: AnalyzedTable, rows: number): void {
    this.pending.set(table, (this.pending.get(table) ?? 0) + rows);
    if (rows >= BULK_ROWS) this.settleLater(table);
    this.analyzeIfDue(table);
  }

  /** A closing pass once the table's bulk changes have stopped for SETTLE_MS. */
  private settleLater(table: AnalyzedTable): void {
    clearTimeout(this.settling.get(table));
    const timer = setTimeout(() => {
      this.settling.delete(table);
      this.settled.add(table);
      this.analyzeIfDue(table);
    }, SETTLE_MS);
    this.settling.set(table, timer.unref());
  }

  private analyzeIfDue(table: AnalyzedTable): void {
    const pending = this.pending.get(table) ?? 0;
    const due = this.settled.has(table) || pending >= Math.max(MIN_CHANGES[table], SHARE * (this.estimates.get(table) ?? 0));
    if (this.analyzing.has(table) || !due) return;
    this.settled.delete(table);
    this.pending.set(table, 0);
    this.analyzing.add(table);
    // Changes that came in meanwhile may be due already.
    void this.analyze(table).finally(() => {
      this.analyzing.delete(table);
      this.analyzeIfDue(table);
    });
  }

  private async analyze(table: AnalyzedTable): Promise<void> {
    try {
      await this.dataSource.query(PASS[table]);
      const [row] = await queryRows<{ rows: number }>(this.dataSource.manager, ROW_ESTIMATE, [table]);
      this.estimates.set(table, row?.rows ?? 0);
    } catch (error) {
      this.logger.warn(`Could not analyze ${table}: ${(error as Error).message}`);
    }
  }
}
