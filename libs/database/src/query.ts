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
  const config = { name, text: sql, values: params.map(arrayLiteral) };
  try {
    const client = manager.queryRunner ? ((await manager.queryRunner.connect()) as pg.PoolClient) : pgPool(manager.connection);
    const result = await client.query(config);
    return result.rows as T[];
  } catch (error) {
    for (const listener of errorListeners) listener(error);
    throw error;
  }
}

/**
 * An array of integers, strings and nulls as PostgreSQL's array literal, built in one pass:
 * node-pg quotes and regex-escapes every element, a third of the time of a 100 000-user bulk
 * change, whose strings (slugs, reasons, actors) repeat, so each distinct one is escaped once.
 * Arrays holding anything else (dates, booleans) are left to node-pg.
 */
function arrayLiteral(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const escaped = new Map<string, string>();
  const parts = new Array<string>(value.length);
  for (let index = 0; index < value.length; index++) {
    const element: unknown = value[index];
    if (element === null || element === undefined) parts[index] = 'NULL';
    else if (Number.isSafeInteger(element)) parts[index] = String(element);
    else if (typeof element === 'string') {
      let quoted = escaped.get(element);
      if (quoted === undefined) {
        quoted = `"${element.replace(/["\\]/g, '\\$&')}"`;
        escaped.set(element, quoted);
      }
      parts[index] = quoted;
    } else return value;
  }
  return `{${parts.join(',')}}`;
}

/** One trivial statement: the database answers (health checks). */
export async function pingDatabase(manager: EntityManager): Promise<void> {
  await queryRows(manager, 'SELECT 1');
}

/**
 * For a transaction whose statements carry thousands of ids (a bulk change, a job's chunk): each
 * statement is planned for the ids it gets, not from the plan a connection cached for the few ids
 * of a batch of requests. A cached plan that guessed a few rows joined 10 000 listed pairs with
 * 10 000 rows in a nested loop (a minute for one statement).
 */
export async function planEachStatement(manager: EntityManager): Promise<void> {
  await manager.query('SET LOCAL plan_cache_mode = force_custom_plan');
}
