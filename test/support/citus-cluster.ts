import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { postgresBin, PrivatePostgres, serverUrl } from './private-servers.js';

/** What every node of a Citus cluster needs: the extension loaded at start, and two-phase commit across nodes. */
const CITUS_SETTINGS = { shared_preload_libraries: 'citus', max_prepared_transactions: '200', wal_level: 'logical' };

/** Runs `statements` in order on a connection of their own; returns the last one's rows. */
const run = async (url: string, ...statements: string[]): Promise<Record<string, unknown>[]> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: Record<string, unknown>[] = [];
    for (const statement of statements) rows = (await client.query(statement)).rows;
    return rows;
  } finally {
    await client.end();
  }
};

/**
 * Creates `name` on every node of a cluster (`nodes`: server URLs, the coordinator first) with
 * the extension, and registers the nodes in it (Citus does not propagate CREATE DATABASE);
 * returns the coordinator's URL of it. With `coordinatorLater`, the coordinator's database is
 * a plain PostgreSQL one until enableCitus (a deployment moving onto the cluster).
 */
export async function createCitusDatabase(
  nodes: readonly string[],
  name: string,
  options: { coordinatorLater?: boolean } = {},
): Promise<string> {
  await Promise.all(
    nodes.map(async (node, index) => {
      await run(node, `CREATE DATABASE ${name}`);
      if (index > 0 || !options.coordinatorLater) await run(serverUrl(node, name), 'CREATE EXTENSION citus');
    }),
  );
  if (!options.coordinatorLater) await enableCitus(nodes, name);
  return serverUrl(nodes[0]!, name);
}

/** What an operator does on the coordinator's database to put it on the cluster: the extension, and where the nodes are. */
export async function enableCitus(nodes: readonly string[], name: string): Promise<void> {
  const port = (url: string) => new URL(url).port;
  await run(
    serverUrl(nodes[0]!, name),
    'CREATE EXTENSION IF NOT EXISTS citus',
    `SELECT citus_set_coordinator_host('127.0.0.1', ${port(nodes[0]!)})`,
    ...nodes.slice(1).map((worker) => `SELECT citus_add_node('127.0.0.1', ${port(worker)})`),
  );
}

export async function dropCitusDatabase(nodes: readonly string[], name: string): Promise<void> {
  await Promise.all(nodes.map((node) => run(node, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
}

/** A local Citus cluster for the tests: a coordinator and two workers, each a private PostgreSQL (temporary data directory, free port). */
export class CitusCluster {
  private constructor(
    readonly coordinator: PrivatePostgres,
    readonly workers: PrivatePostgres[],
  ) {}

  /** Starts the nodes; fails with how to install Citus when the extension is not there. */
  static async start(settings: Record<string, string> = {}): Promise<CitusCluster> {
    if (!existsSync(join(postgresBin(), '..', 'lib', 'citus.so'))) {
      throw new Error(
        'Citus is not installed in this PostgreSQL (no citus.so): install it from its packages (https://docs.citusdata.com), ' +
          'or on these machines with ../shared/citus/install.sh; npm run test:citus needs it.',
      );
    }
    const nodes = await Promise.all([0, 1, 2].map(() => PrivatePostgres.start({ ...CITUS_SETTINGS, ...settings })));
    return new CitusCluster(nodes[0]!, nodes.slice(1));
  }

  /** Server URLs of the nodes, the coordinator first. */
  get nodes(): string[] {
    return [this.coordinator, ...this.workers].map((node) => node.url());
  }

  /**
   * Transactions prepared on a worker and not yet committed there: a worker that was away at
   * COMMIT PREPARED holds them, durable but invisible, until the coordinator's 2PC recovery.
   */
  async preparedOnWorkers(): Promise<number> {
    const counts = await Promise.all(this.workers.map((worker) => run(worker.url(), 'SELECT count(*) AS n FROM pg_prepared_xacts')));
    return counts.reduce((sum, [row]) => sum + Number(row!.n), 0);
  }

  async stop(): Promise<void> {
    await Promise.all([this.coordinator, ...this.workers].map((node) => node.destroy()));
  }
}
