import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import type {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { HistoryRepository } from './history.repository.js';
import type { MembershipChange } from './history.types.js';

const BUFFER = Symbol('membershipHistory');
const WRITTEN = Symbol('membershipHistoryWritten');

type Buffered = { [BUFFER]?: MembershipChange[]; [WRITTEN]?: MembershipChange[] };

export const MEMBERSHIP_CHANGES = 'membership_changes_total';

export const membershipChangesProvider = makeCounterProvider({
  name: MEMBERSHIP_CHANGES,
  help: 'Committed membership changes by operation and reason',
  labelNames: ['operation', 'reason'],
});

/**
 * Writes membership history inside the transaction of the change. The membership write
 * path reports each real change (`record`); this TypeORM subscriber writes everything the
 * transaction reported in one multi-row INSERT just before it commits, and forgets it on
 * rollback. Entity insert events are deliberately not used: TypeORM fires them for rows
 * that ON CONFLICT skipped, and never for raw bulk statements.
 */
@Injectable()
export class HistorySubscriber implements EntitySubscriberInterface {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly history: HistoryRepository,
    @InjectMetric(MEMBERSHIP_CHANGES) private readonly changesCounter: Counter,
  ) {
    dataSource.subscribers.push(this);
  }

  /** Adds changes to the history of `manager`'s transaction; throws outside a transaction. */
  record(manager: EntityManager, changes: MembershipChange[]): void {
    const runner = manager.queryRunner;
    if (!runner?.isTransactionActive) throw new Error('Membership changes must be recorded inside their transaction');
    if (changes.length === 0) return;
    const buffer = ((runner.data as Buffered)[BUFFER] ??= []);
    // Not push(...changes): spreading a 100 000-change bulk write overflows the call stack.
    for (const change of changes) buffer.push(change);
  }

  async beforeTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const changes = takeBuffer(event.queryRunner);
    if (changes.length === 0) return;
    (event.queryRunner.data as Buffered)[WRITTEN] = changes;
    await this.history.insert(event.manager, changes);
  }

  /** Counts the changes once they are committed (one increment per kind: a bulk write holds 100 000). */
  afterTransactionCommit(event: TransactionCommitEvent): void {
    const data = event.queryRunner.data as Buffered;
    const counts = new Map<string, number>();
    for (const { operation, reason } of data[WRITTEN] ?? []) {
      const kind = `${operation}:${reason}`;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    for (const [kind, count] of counts) {
      const [operation, reason] = kind.split(':');
      this.changesCounter.inc({ operation, reason }, count);
    }
    delete data[WRITTEN];
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    takeBuffer(event.queryRunner);
    delete (event.queryRunner.data as Buffered)[WRITTEN];
  }
}

function takeBuffer(runner: QueryRunner): MembershipChange[] {
  const data = runner.data as Buffered;
  const changes = data[BUFFER] ?? [];
  delete data[BUFFER];
  return changes;
}
