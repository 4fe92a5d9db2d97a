import type { EntityManager } from 'typeorm';

/**
 * Runs one SQL statement and returns its rows, whatever the statement kind (TypeORM's
 * plain `query()` returns `[rows, count]` for UPDATE/DELETE).
 */
export async function queryRows<T>(manager: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = await runner.query(sql, params, true);
    return result.records as T[];
  } finally {
    if (runner !== manager.queryRunner) await runner.release();
  }
}
