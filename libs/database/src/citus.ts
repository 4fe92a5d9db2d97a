import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';

/** How a table lives on a Citus cluster: spread over shards by a column, or copied whole to every node. */
export type Distribution = { kind: 'distributed'; column: string; colocateWith?: string } | { kind: 'reference' };

const DISTRIBUTION = Symbol('citusDistribution');

/**
 * The table is spread over a Citus cluster's shards by `column` (a user id: a user's rows live
 * together, so a per-user read or write goes to one shard), co-located with `colocateWith`
 * (joins and transactions on one user's rows of both stay on one node).
 */
export function DistributedBy(column: string, options: { colocateWith?: string } = {}): ClassDecorator {
  return (target) => Reflect.defineMetadata(DISTRIBUTION, { kind: 'distributed', column, ...options }, target);
}

/** The table is small and read by everything: a Citus cluster keeps a copy of it on every node. */
export function ReferenceTable(): ClassDecorator {
  return (target) => Reflect.defineMetadata(DISTRIBUTION, { kind: 'reference' }, target);
}

export function distributionOf(entity: unknown): Distribution | undefined {
  return typeof entity === 'function' ? (Reflect.getMetadata(DISTRIBUTION, entity) as Distribution | undefined) : undefined;
}

const CITUS_INSTALLED = `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed`;
/** Only with the extension: its catalogue does not exist otherwise. */
const DISTRIBUTED_ALREADY = `SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition`;
/** Functions the statements run on the shards call: every node needs them. */
const SHARD_FUNCTIONS = ['segment_bucket(integer, bigint)'];
const FUNCTION_PROPAGATED = `
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_object WHERE classid = 'pg_proc'::regclass AND objid = $1::regprocedure) AS propagated`;

/**
 * On a database with the `citus` extension (the operator creates it), lays out the schema the
 * entities describe: reference tables first (a distributed table may refer to them), then the
 * distributed ones, each co-located as declared (history's partitions with it, and the ones
 * created later too, since they are attached to a distributed table). Tables already laid out
 * are left alone, so it runs after every migration run; existing rows move to the shards as
 * each table is distributed. Without the extension it does nothing. Returns what it distributed.
 */
export async function distributeSchema(dataSource: DataSource): Promise<string[]> {
  const manager = dataSource.manager;
  const [{ installed }] = (await manager.query(CITUS_INSTALLED)) as [{ installed: boolean }];
  if (!installed) return [];
  const done = new Set(((await manager.query(DISTRIBUTED_ALREADY)) as { name: string }[]).map((row) => row.name));
  const layouts = dataSource.entityMetadatas
    .map((metadata) => ({ table: metadata.tableName, distribution: distributionOf(metadata.target) }))
    .filter((layout): layout is { table: string; distribution: Distribution } => layout.distribution !== undefined)
    .sort((a, b) => rank(a.distribution) - rank(b.distribution));
  const distributed: string[] = [];
  await dataSource.transaction(async (transaction) => {
    await propagateFunctions(transaction);
    for (const { table, distribution } of layouts) {
      if (done.has(table)) continue;
      if (distribution.kind === 'reference') await transaction.query('SELECT create_reference_table($1)', [table]);
      else {
        await transaction.query('SELECT create_distributed_table($1, $2, colocate_with => $3)', [
          table,
          distribution.column,
          distribution.colocateWith ?? 'default',
        ]);
      }
      distributed.push(table);
    }
  });
  if (distributed.length > 0) new Logger('Citus').log(`Distributed ${distributed.join(', ')}`);
  return distributed;
}

/** Reference tables, then the tables others co-locate with, then those. */
function rank(distribution: Distribution): number {
  if (distribution.kind === 'reference') return 0;
  return distribution.colocateWith === undefined ? 1 : 2;
}

async function propagateFunctions(manager: EntityManager): Promise<void> {
  for (const signature of SHARD_FUNCTIONS) {
    const [{ propagated }] = (await manager.query(FUNCTION_PROPAGATED, [signature])) as [{ propagated: boolean }];
    if (!propagated) await manager.query('SELECT create_distributed_function($1)', [signature]);
  }
}

/**
 * The first statement of a transaction that changes a small (reference) table after statements
 * over many shards (a job's chunk recording its progress): Citus refuses that change once it has
 * run the shards in parallel, so such a transaction reaches each node over one connection. On
 * one PostgreSQL it sets a placeholder nothing reads.
 */
export async function oneConnectionPerNode(manager: EntityManager): Promise<void> {
  await manager.query(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
}
