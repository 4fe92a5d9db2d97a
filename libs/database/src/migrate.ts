import { Logger } from '@nestjs/common';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { distributeSchema } from './citus.js';

/** Any fixed 64-bit key: all processes that migrate the same database take the same advisory lock. */
const MIGRATION_LOCK_KEY = 7_180_245_001;

/**
 * Applies pending migrations under a session advisory lock, so several API replicas
 * starting together apply each migration exactly once; then, on a database with the citus
 * extension, lays out the tables the data source's entities declare (see distributeSchema).
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    await distributeSchema(dataSource);
    return applied.map((migration) => migration.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}

/** True when every migration the code knows is recorded as applied. */
export async function migrationsApplied(dataSource: DataSource): Promise<boolean> {
  return !(await dataSource.showMigrations());
}

/**
 * Creates the database named in `databaseUrl` when it does not exist yet (a development
 * convenience: `npm start` against a fresh local PostgreSQL just works).
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return;
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        // 42P04: another process created it meanwhile.
        if (error.code !== '42P04') throw error;
      });
      new Logger('Database').log(`Created database ${name}`);
    }
  } finally {
    await client.end();
  }
}
