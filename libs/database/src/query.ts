import type pg from 'pg';
import type { EntityManager } from 'typeorm';
import { pgPool } from './pool.js';

const statementNames = new Map<string, string>();
const errorListeners: ((error: unknown) => void)[] = [];

/** Calls `listener` with every failed statement run through queryRows (for metrics). */
export function onQueryError(listener: (error: unknown) => void): void {
  errorListeners.push(listener);
}

/**
 * Runs one SQL statement on `manager`'s transaction (or on the pool outside one) and
 * returns its rows. Every statement is a named prepared statement, planned once per
 * connection: the SQL of this service is static text with bind parameters, and the
 * membership write path runs the same few statements at a high rate.
 */
export async function queryRows<T>(manager: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  let name = statementNames.get(sql);
  if (!name) {
    name = `s${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  const config = { name, text: sql, values: params };
  try {
    const client = manager.queryRunner ? ((await manager.queryRunner.connect()) as pg.PoolClient) : pgPool(manager.connection);
    const result = await client.query(config);
    return result.rows as T[];
  } catch (error) {
    for (const listener of errorListeners) listener(error);
    throw error;
  }
}

/** One trivial statement: the database answers (health checks). */
export async function pingDatabase(manager: EntityManager): Promise<void> {
  await queryRows(manager, 'SELECT 1');
}
