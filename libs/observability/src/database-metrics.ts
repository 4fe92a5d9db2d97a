import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { onQueryError, pgPool } from '#libs/database';
import type { Counter, Gauge } from 'prom-client';
import type { AfterQueryEvent, DataSource, EntitySubscriberInterface } from 'typeorm';
import { MetricsRefresh } from './metrics-refresh.js';

export const DB_POOL = 'db_pool_connections';
export const DB_QUERY_ERRORS = 'db_query_errors_total';

export const databaseMetricProviders = [
  makeGaugeProvider({ name: DB_POOL, help: 'PostgreSQL pool connections by state (total, idle, waiting requests)', labelNames: ['state'] }),
  makeCounterProvider({ name: DB_QUERY_ERRORS, help: 'SQL statements that failed' }),
];

/** Pool usage (refreshed on scrape) and failed statements (TypeORM's and queryRows'). */
@Injectable()
export class DatabaseMetrics implements OnModuleInit, EntitySubscriberInterface {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly refresh: MetricsRefresh,
    @InjectMetric(DB_POOL) private readonly pool: Gauge,
    @InjectMetric(DB_QUERY_ERRORS) private readonly errors: Counter,
  ) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
    onQueryError(() => this.errors.inc());
    this.refresh.register(async () => {
      const pool = pgPool(this.dataSource);
      this.pool.set({ state: 'total' }, pool.totalCount);
      this.pool.set({ state: 'idle' }, pool.idleCount);
      this.pool.set({ state: 'waiting' }, pool.waitingCount);
    });
  }

  afterQuery(event: AfterQueryEvent): void {
    if (!event.success) this.errors.inc();
  }
}
