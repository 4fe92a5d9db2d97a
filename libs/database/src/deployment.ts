import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { queryRows } from './query.js';

/** Where the schema lives: one PostgreSQL (or Citus with nothing distributed yet), or a Citus cluster whose per-user tables are spread over shards. */
export type DeploymentKind = 'single' | 'distributed';

const CITUS = `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`;
/** Only with the extension: its catalogue does not exist otherwise. */
const DISTRIBUTED_TABLE = `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'users'::regclass) AS distributed`;

/**
 * Which deployment this process talks to, read once at start. The few statements that Citus
 * runs differently come in two forms of one design (see lockRows), and repositories pick by it;
 * nothing else in the service knows.
 */
@Injectable()
export class Deployment implements OnModuleInit {
  kind: DeploymentKind = 'single';

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    const [citus] = await queryRows<{ citus: boolean }>(this.dataSource.manager, CITUS);
    if (!citus!.citus) return;
    const [row] = await queryRows<{ distributed: boolean }>(this.dataSource.manager, DISTRIBUTED_TABLE);
    this.kind = row!.distributed ? 'distributed' : 'single';
  }
}

/**
 * A statement that locks the rows of `table` (as `alias`) matching `where` for the rest of the
 * transaction, waiting for them (FOR NO KEY UPDATE, in key order), and returns `returning`; in
 * two forms. Citus refuses FOR UPDATE on a statement that spans shards, so on a distributed
 * table the lock is a no-op update of the key, which takes the same row lock (it writes new row
 * versions, which is why one PostgreSQL keeps the select).
 */
export function lockRows(spec: {
  table: string;
  alias: string;
  key: string;
  where: string;
  returning: string;
}): Record<DeploymentKind, string> {
  const { table, alias, key, where, returning } = spec;
  return {
    single: `SELECT ${returning} FROM ${table} ${alias} WHERE ${where} ORDER BY ${alias}.${key} FOR NO KEY UPDATE OF ${alias}`,
    distributed: `UPDATE ${table} ${alias} SET ${key} = ${alias}.${key} WHERE ${where} RETURNING ${returning}`,
  };
}
