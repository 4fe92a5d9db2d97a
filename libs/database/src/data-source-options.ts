import type { AppConfig } from '#libs/config';
import type { DataSourceOptions } from 'typeorm';
import { migrations } from './migrations/index.js';

/**
 * Session settings for a Citus cluster (on one PostgreSQL they are placeholders nothing reads):
 * - multi-shard statements do not take turns on every shard they touch (enable_deadlock_prevention
 *   on made every batch of requests spanning shards wait for every other, and for every campaign,
 *   and deadlocked with the row locks those hold; the cluster's deadlock detector covers the rest);
 * - a SET LOCAL reaches the nodes (a registration's lock timeout, see UsersRepository).
 */
const CITUS_SESSION = '-c citus.enable_deadlock_prevention=off -c citus.propagate_set_commands=local';

/** How long opening a connection may take before the request fails as "database unavailable". */
export const DATABASE_CONNECT_TIMEOUT_MS = 2000;

/** Connection settings shared by the Nest module, the migration CLI and the tests. */
export function dataSourceOptions(config: Pick<AppConfig, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.DATABASE_URL,
    // User ids are bounded to 2^53 - 1 by a CHECK constraint, so int8 values are exact as numbers.
    parseInt8: true,
    poolSize: config.DATABASE_POOL_SIZE,
    // A request during a database outage fails fast (503) instead of waiting for a connection forever.
    connectTimeoutMS: DATABASE_CONNECT_TIMEOUT_MS,
    applicationName: 'segmentation-service',
    extra: { options: CITUS_SESSION },
    migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    // Generated uuids are gen_random_uuid() (core since PostgreSQL 13): TypeORM installs no extension for them.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    logging: ['error', 'warn'],
  };
}
