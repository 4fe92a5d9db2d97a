import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { inject } from 'vitest';
import { dataSourceOptions, runMigrations } from '#libs/database';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../../apps/api/src/data-source.js';
import { createCitusDatabase, dropCitusDatabase } from './citus-cluster.js';
import { serverUrl } from './private-servers.js';

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

export interface SuiteDatabase {
  name: string;
  url: string;
  /** Drops the database once its last connection has gone. */
  drop: () => Promise<void>;
}

/**
 * A database of the suite's own: a copy of the migrated template that the global setup built,
 * or with `empty` nothing in it. On a Citus cluster (`npm run test:citus`) there is no copying
 * a distributed schema: the database is made on every node and migrated (and so distributed).
 */
export async function createSuiteDatabase(options: { empty?: boolean } = {}): Promise<SuiteDatabase> {
  const name = `seg_test_${randomSuffix()}`;
  const citusNodes = inject('citusNodes');
  if (citusNodes.length > 0) {
    const url = await createCitusDatabase(citusNodes, name);
    if (!options.empty) await migrate(url);
    return { name, url, drop: () => dropCitusDatabase(citusNodes, name) };
  }
  const server = inject('databaseServerUrl');
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(options.empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: serverUrl(server, name),
    drop: async () => {
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      try {
        await dropDatabase(client, name);
      } finally {
        await client.end();
      }
    },
  };
}

/** Applies the migrations to the database at `url` (on Citus, lays out the schema too). */
export async function migrate(url: string): Promise<void> {
  const dataSource = await new DataSource({
    ...dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }),
    entities: ENTITIES,
  }).initialize();
  try {
    await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

/** Drops a suite database once its last connection has gone (closing pools finish asynchronously). */
export async function dropDatabase(admin: pg.Client, database: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006') throw error;
      await sleep(100);
    }
  }
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
