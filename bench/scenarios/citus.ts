import { setTimeout as sleep } from 'node:timers/promises';
import { CitusCluster, createCitusDatabase } from '../../test/support/citus-cluster.js';
import type { BenchContext } from '../context.js';
import { fillDataset, migrate, serviceMaintenanceDone, until, withDb } from '../dataset.js';
import { load, randomInt, type LoadResult } from '../load.js';
import { createBenchToken, serviceEnv, startApi, startWorker, type Service } from '../processes.js';
import { since } from '../psql.js';
import { fixed, thousands, type Row } from '../table.js';
import { patchRequest } from './hot-paths.js';
import { duringCampaigns } from './interference.js';

/** One deployment the comparison measures: its API, its database, a worker on demand. */
interface Deployment {
  name: string;
  api: Service;
  auth: { authorization: string };
  databaseUrl: string;
  worker: () => Promise<Service>;
}

/** The most users the cluster's data set holds (see citus()). */
const CITUS_USERS = 100_000;

const call = async (deployment: Deployment, path: string, method = 'GET', body?: object) => {
  const response = await fetch(`${deployment.api.url}${path}`, {
    method,
    headers: { ...deployment.auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${deployment.name}: ${method} ${path} answered ${response.status}: ${await response.text()}`);
  return response;
};

/** A campaign's duration and how many users it changed. */
interface CampaignRun {
  seconds: number;
  users: number;
}

/** Users registered in `deployment`'s database. */
const userCount = (deployment: Deployment) =>
  withDb(deployment.databaseUrl, async (db) => Number((await db.query('SELECT count(*) AS n FROM users')).rows[0].n));

/** A campaign on `deployment`, timed; each deployment gets segments of its own (`tag`). */
const campaigns = {
  /** 100 000 ids added to a new segment by one POST /segments/{slug}/members. */
  async members(deployment: Deployment, _context: BenchContext, tag: string): Promise<CampaignRun> {
    const ids = Array.from({ length: Math.min(100_000, await userCount(deployment)) }, (_, index) => index + 1);
    await call(deployment, '/segments', 'POST', { slug: `CITUS_CMP_MEMBERS_${tag}` });
    const started = process.hrtime.bigint();
    await call(deployment, `/segments/CITUS_CMP_MEMBERS_${tag}/members`, 'POST', { add: ids });
    return { seconds: since(started), users: ids.length };
  },
  /** A 50 % rollout over every user, by a worker. */
  async rollout(deployment: Deployment, _context: BenchContext, tag: string): Promise<CampaignRun> {
    const worker = await deployment.worker();
    try {
      const slug = `CITUS_CMP_ROLLOUT_${tag}`;
      const started = process.hrtime.bigint();
      await call(deployment, '/segments', 'POST', { slug, auto_percent: 50 });
      await until(
        async () =>
          ((await (await call(deployment, `/segments/${slug}`)).json()) as { rollout: { state: string } }).rollout.state === 'done',
        900,
      );
      return { seconds: since(started), users: await userCount(deployment) };
    } finally {
      await worker.stop();
    }
  },
  /** The deletion of a segment every user is in, until its purge (with history) is done. */
  async purge(deployment: Deployment, _context: BenchContext, tag: string): Promise<CampaignRun> {
    const slug = `CITUS_CMP_PURGE_${tag}`;
    const id = await withDb(deployment.databaseUrl, async (db) => {
      const segment = (await db.query(`INSERT INTO segments (slug) VALUES ($1) RETURNING id`, [slug])).rows[0].id as number;
      await db.query(`INSERT INTO memberships (user_id, segment_id, source) SELECT id, $1, 'manual' FROM users`, [segment]);
      await db.query('ANALYZE memberships');
      return segment;
    });
    const worker = await deployment.worker();
    try {
      const started = process.hrtime.bigint();
      await call(deployment, `/segments/${slug}`, 'DELETE');
      await withDb(deployment.databaseUrl, (db) =>
        until(async () => (await db.query('SELECT purged_at FROM segments WHERE id = $1', [id])).rows[0].purged_at !== null, 900),
      );
      return { seconds: since(started), users: await userCount(deployment) };
    } finally {
      await worker.stop();
    }
  },
};

const hot = {
  get: (deployment: Deployment, context: BenchContext) =>
    load({
      url: deployment.api.url,
      seconds: context.seconds,
      connections: context.connections,
      headers: deployment.auth,
      next: () => ({ path: `/users/${randomInt(context.size.users)}/segments` }),
    }),
  // Users of the upper half: the plain data set's lower half is pgbench's in the patch scenario.
  patch: (deployment: Deployment, context: BenchContext) =>
    load({
      url: deployment.api.url,
      seconds: context.seconds,
      connections: context.connections,
      headers: deployment.auth,
      next: () => patchRequest(context, context.size.users / 2 + randomInt(context.size.users / 2)),
    }),
};

const describeLoad = (result: LoadResult) =>
  `${thousands(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms${result.errors + result.non2xx > 0 ? `, ${result.errors + result.non2xx} failed` : ''}`;

/**
 * The same service on a local Citus cluster (a coordinator and two workers, started here, each
 * a PostgreSQL of its own on these same two cores) beside the plain PostgreSQL of this run:
 * the hot paths (load of the same generator, one deployment after the other) and the
 * campaigns (each on segments of its own), then the PATCH-during-campaigns rows on the cluster.
 * Ratios are cluster / plain. On one machine a cluster adds the hops between its nodes and
 * splits the same cores between three servers, so a ratio below 1 is expected here; what
 * spreading over machines gives is in README How it scales.
 */
export async function citus(context: BenchContext): Promise<Row[]> {
  // Three servers on the bench's two cores move campaigns 10–40× slower than one: a full-size
  // rollout would take most of an hour. The cluster gets at most CITUS_USERS users; hot paths
  // hardly depend on the size, campaigns compare as users per second.
  const size = { ...context.size, users: Math.min(context.size.users, CITUS_USERS) };
  const cluster = await CitusCluster.start();
  const services: Service[] = [];
  try {
    const url = await createCitusDatabase(cluster.nodes, 'seg_bench');
    migrate(url);
    // As on plain PostgreSQL, the API's start creates the history partitions the data set writes into.
    const env = serviceEnv(url, { PUBLIC_BASE_URL: 'http://127.0.0.1:3940', REDIS_PREFIX: `bench-citus:${process.pid}` });
    const api = await startApi(env, 3940);
    services.push(api);
    const started = Date.now();
    await fillDataset(url, size);
    const fillSeconds = (Date.now() - started) / 1000;
    const clusterDeployment: Deployment = {
      name: 'Citus',
      api,
      auth: { authorization: `Bearer ${await createBenchToken(api.url)}` },
      databaseUrl: url,
      worker: async () => {
        const worker = await startWorker({ ...env, EXPIRY_SWEEP_INTERVAL_MS: '1000', RECONCILE_INTERVAL_MS: '1000' }, 3941);
        services.push(worker);
        return worker;
      },
    };
    const plainDeployment: Deployment = {
      name: 'plain',
      api: context.api,
      auth: context.auth,
      databaseUrl: context.databaseUrl,
      worker: context.worker,
    };

    const rows: Row[] = [
      {
        path: 'Citus: a coordinator and 2 workers on this host, the data set loaded',
        figure: `${thousands(size.users)} users in ${fixed(fillSeconds, 1)} s (plain PostgreSQL: ${thousands(context.size.users)})`,
        baseline: '—',
        ratio: '—',
        target: 'reported',
        pass: null,
      },
    ];
    for (const [name, measure] of Object.entries(hot)) {
      await serviceMaintenanceDone(url);
      const plain = await measure(plainDeployment, context);
      const distributed = await measure(clusterDeployment, { ...context, size });
      rows.push({
        path: `${name.toUpperCase()} /users/{id}/segments — Citus`,
        figure: describeLoad(distributed),
        baseline: `${describeLoad(plain)} plain PostgreSQL`,
        ratio: `${fixed(distributed.rps / plain.rps)}×`,
        target: 'reported',
        pass: distributed.errors + distributed.non2xx === 0 ? null : false,
      });
    }
    for (const [name, measure] of Object.entries(campaigns)) {
      await serviceMaintenanceDone(context.databaseUrl);
      const plain = await measure(plainDeployment, context, 'PLAIN');
      await serviceMaintenanceDone(url);
      const distributed = await measure(clusterDeployment, { ...context, size }, 'CITUS');
      const rate = (run: CampaignRun) => run.users / run.seconds;
      const describe = (run: CampaignRun) => `${thousands(rate(run))} users/s (${thousands(run.users)} in ${fixed(run.seconds)} s)`;
      rows.push({
        path: `${name} (see its row above) — Citus`,
        figure: describe(distributed),
        baseline: `${describe(plain)} plain PostgreSQL`,
        ratio: `${fixed(rate(distributed) / rate(plain))}×`,
        target: 'reported',
        pass: null,
      });
    }
    await serviceMaintenanceDone(url);
    await sleep(1_000);
    const interference = await duringCampaigns({
      ...context,
      size,
      api,
      auth: clusterDeployment.auth,
      databaseUrl: url,
      worker: clusterDeployment.worker,
    });
    // The interference targets are one PostgreSQL's: on three servers sharing two cores the
    // cluster cannot hold the fixed rate, so its rows are reported, not judged.
    rows.push(...interference.map((row) => ({ ...row, path: `${row.path} — Citus`, target: 'reported', pass: null })));
    return rows;
  } finally {
    await Promise.all(services.map((service) => service.stop()));
    await cluster.stop();
  }
}
