import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { TableStatistics } from '#libs/database';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { HistoryRepository } from './history.repository.js';

/** Entries stamped per pass at most: a pass is a short transaction, whatever a campaign wrote. */
export const RELAY_BATCH_MAX = 10_000;

/** After a failed pass (the database is away), the relay tries again this much later. */
const RELAY_RETRY_MS = 1_000;

/**
 * Puts committed history entries into the change feed's order, with no lock a writer takes.
 * Writers insert entries without a feed position; each pass of the relay stamps the entries
 * that are committed by then and not stamped yet with the next batch number, in one
 * statement, so batches follow the order in which transactions became visible. A user's
 * changes are serialised by the user's lock, so a later change of a user is never visible
 * before an earlier one: it lands in the same batch with a higher id, or in a later batch.
 *
 * A batch is published (readers see batches up to the published one) only after the relay has
 * seen all of it from a later transaction: on a cluster, a transaction's rows become visible
 * node by node, and a reader must never move past part of a batch. One relay runs a pass at a
 * time (the state row is locked with SKIP LOCKED: others skip their turn), in every process,
 * so the feed moves whenever any API or worker runs.
 */
@Injectable()
export class ChangeFeedRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeedRelay.name);
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly history: HistoryRepository,
    private readonly statistics: TableStatistics,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.FEED_RELAY_INTERVAL_MS > 0) this.running = this.loop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /**
   * One pass: publishes the last stamped batch once it is all visible, then stamps the next
   * one. Returns how many entries it stamped (0 when there was nothing to do, or another relay
   * held the turn).
   */
  async pass(): Promise<number> {
    const stamped = await this.dataSource.transaction(async (manager) => {
      const state = await this.history.lockRelay(manager);
      if (!state || state.stampedBatch > state.publishedBatch) return 0;
      await this.history.holdPartitions(manager);
      const stamped = await this.history.stamp(manager, state.stampedBatch + 1, RELAY_BATCH_MAX);
      // Batches move the feed's index: its statistics follow them (see TableStatistics).
      this.statistics.changed(manager, 'membership_history', stamped);
      return stamped;
    });
    await this.publish();
    return stamped;
  }

  private async publish(): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const state = await this.history.lockRelay(manager);
      if (!state || state.stampedBatch === state.publishedBatch) return;
      if ((await this.history.countBatch(manager, state.stampedBatch)) < state.stampedCount) return;
      await this.history.publish(manager);
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let wait = this.config.FEED_RELAY_INTERVAL_MS;
      try {
        const started = Date.now();
        // A full pass means more is waiting: go on after as long as the pass took, so that while
        // a campaign's history pours in the relay takes at most half of the database's time it
        // could (the feed catches up once the campaign is over).
        if ((await this.pass()) >= RELAY_BATCH_MAX) wait = Date.now() - started;
      } catch (error) {
        if (!this.stopped) this.logger.warn(`Change-feed relay pass failed (${(error as Error).message}); retrying`);
        wait = RELAY_RETRY_MS;
      }
      if (wait > 0 && !this.stopped) await sleep(wait);
    }
  }
}
