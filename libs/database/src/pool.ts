import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';

/**
 * The `pg` pool behind the TypeORM data source, for what TypeORM does not expose: COPY
 * streams, pool gauges and queryRows' prepared statements. Same connections, same limits.
 */
export function pgPool(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as PostgresDriver).master as pg.Pool;
}
