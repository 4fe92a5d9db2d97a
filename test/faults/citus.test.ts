import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CitusCluster, createCitusDatabase } from '../support/citus-cluster.js';
import { PrivateRedis, sleep } from '../support/private-servers.js';
import { allInvariants } from './checks.js';
import { startCluster, type Cluster } from './cluster.js';
import { expectOnlyDocumentedServerErrors, Load, type Expectation } from './load.js';

const USERS = 5_000;
const SLUGS = ['C_A', 'C_B', 'C_C', 'C_D'];
const RECOVERY_LIMIT_MS = 30_000;
const BOOTSTRAP_TOKEN = 'fault-suite-bootstrap-token-0123456789';
const HEADERS = { authorization: `Bearer ${BOOTSTRAP_TOKEN}` };

/**
 * The fault suite's question on a Citus cluster (coordinator + 2 workers, the service's two API
 * and two worker processes on the coordinator): a worker node restarted mid-load fails the
 * requests that need it, fast and with 503, loses no acknowledged change, and every process
 * recovers by itself.
 */
describe('faults on a Citus cluster', () => {
  let citus: CitusCluster;
  let redis: PrivateRedis;
  let cluster: Cluster;
  let db: pg.Pool;
  const expectations = new Map<string, Expectation>();

  const api = async (path: string, method: string, body: object) => {
    const response = await fetch(`${cluster.apis[0]!.url}${path}`, {
      method,
      headers: { ...HEADERS, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, await response.text()).toBeLessThan(300);
  };

  beforeAll(async () => {
    // Commits a worker missed while it was away are finished by the coordinator's 2PC recovery,
    // a minute apart by default; docs/decisions/citus.md recommends seconds (each database with the
    // extension runs it: the test:citus cluster, holding dozens, keeps the default).
    [citus, redis] = await Promise.all([CitusCluster.start({ 'citus.recover_2pc_interval': '1s' }), PrivateRedis.start()]);
    const url = await createCitusDatabase(citus.nodes, 'segmentation');
    db = new pg.Pool({ connectionString: url, max: 4 });
    db.on('error', () => undefined);
    cluster = await startCluster(
      {
        ...process.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        DATABASE_URL: url,
        DATABASE_POOL_SIZE: '8',
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'citus-faults',
        REPORT_LINK_SECRET: 'fault-suite-report-link-secret-0123456789',
        AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
        PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
        LOG_LEVEL: 'info',
        JOB_BATCH_SIZE: '500',
        RECONCILE_INTERVAL_MS: '2000',
        RUN_MIGRATIONS: 'false',
      },
      mkdtempSync(join(tmpdir(), 'seg-citus-faults-logs-')),
    );
    for (const slug of SLUGS) await api('/segments', 'POST', { slug });
    await api('/users/bulk', 'POST', { user_ids: Array.from({ length: USERS }, (_, index) => index + 1) });
  }, 240_000);

  afterAll(async () => {
    try {
      await cluster?.stop();
      await db?.end();
    } finally {
      await redis?.stop();
      await citus?.stop();
    }
  }, 120_000);

  it('survives a worker node restarted mid-load: 503s during the outage, nothing acknowledged lost, everything recovers', async () => {
    const load = new Load({
      apis: () => cluster.apis.map((service) => service.url),
      users: Array.from({ length: 1_000 }, (_, index) => index + 1),
      slugs: SLUGS,
      concurrency: 12,
      headers: HEADERS,
      expectations,
    });
    load.start();
    await sleep(2_000);
    // A rollout runs through the outage too: its chunks need every node.
    await api('/segments', 'POST', { slug: 'C_AUTO', auto_percent: 30 });
    const worker = citus.workers[0]!;
    await worker.stop('fast');
    await sleep(3_000);
    await worker.start();
    const recoveryMs = await cluster.untilAllReady(RECOVERY_LIMIT_MS);
    await sleep(3_000);
    const stats = await load.stop();

    const rollout = async () =>
      (await db.query(`SELECT rollout_state AS state FROM segments WHERE slug = 'C_AUTO' AND deleted_at IS NULL`)).rows[0].state;
    for (const started = Date.now(); (await rollout()) !== 'done'; await sleep(200)) {
      if (Date.now() - started > 120_000) throw new Error('the rollout did not finish after the outage');
    }
    // A batch whose COMMIT PREPARED missed the stopped worker is acknowledged (the coordinator
    // recorded the commit) and becomes visible when 2PC recovery commits it there.
    const preparedAfterOutage = await citus.preparedOnWorkers();
    for (const started = Date.now(); (await citus.preparedOnWorkers()) > 0; await sleep(200)) {
      if (Date.now() - started > 30_000) throw new Error('prepared transactions stayed on a worker after 2PC recovery');
    }
    expect(await allInvariants(db, expectations)).toEqual([]);
    expectOnlyDocumentedServerErrors(stats);
    expect(stats.failed['503'] ?? 0, 'requests during the outage answered 503').toBeGreaterThan(0);
    expect(stats.slowestFailureMs, 'failures were fast').toBeLessThan(5_000);
    expect(stats.acknowledged).toBeGreaterThan(0);
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_LIMIT_MS);
    console.log(
      `citus worker restart: ${stats.requests} requests, ${stats.acknowledged} acknowledged, failed ${JSON.stringify(stats.failed)}, ready again after ${recoveryMs} ms, ${preparedAfterOutage} prepared transactions awaited 2PC recovery`,
    );
  });
});
