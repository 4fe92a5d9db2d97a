import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allInvariants, type Violation } from './checks.js';
import { FeedFollower } from './feed.js';
import { startCluster, type Cluster, type ServiceProcess } from './cluster.js';
import { expectOnlyDocumentedServerErrors, Load, type Expectation, type LoadStats } from './load.js';
import { PrivatePostgres, PrivateRedis, sleep } from '../support/private-servers.js';

/**
 * The fault-injection suite (`npm run test:faults`): its own PostgreSQL and Redis, two API and
 * two worker processes, mixed load, and one fault per scenario. After each: every acknowledged
 * change is in the final state, history replays to it, automatic members are exactly the
 * bucket set minus opt-outs, purged segments are empty, and every process is ready again
 * within 30 s. Traffic goes to 127.0.0.1 only.
 */
const USERS = 20_000;
const LOAD_USERS = 2_000;
const SLUGS = ['F_A', 'F_B', 'F_C', 'F_D', 'F_E', 'F_F'];
const RECOVERY_LIMIT_MS = 30_000;
const RESUME_LIMIT_MS = 60_000;
const BOOTSTRAP_TOKEN = 'fault-suite-bootstrap-token-0123456789';
const TOKEN_HEADERS: Record<string, string> = { authorization: `Bearer ${BOOTSTRAP_TOKEN}` };

interface Row {
  scenario: string;
  stats: LoadStats;
  violations: Violation[];
  recoveryMs: number;
  note: string;
}

describe('faults', () => {
  let postgres: PrivatePostgres;
  let redis: PrivateRedis;
  let cluster: Cluster;
  let db: pg.Pool;
  /** Change-feed consumers running through every scenario: one pages, one follows the stream. */
  let paged: FeedFollower;
  let streamed: FeedFollower;
  const expectations = new Map<string, Expectation>();
  const table: Row[] = [];
  const loadUsers = Array.from({ length: LOAD_USERS }, (_, index) => index + 1);

  /** One request to the first API; a JSON body when given. */
  const api = async (path: string, method = 'GET', body?: object) => {
    const response = await fetch(`${cluster.apis[0]!.url}${path}`, {
      method,
      headers: { ...TOKEN_HEADERS, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, text };
  };
  const expectStatus = async (request: Promise<{ status: number; text: string }>, status: number) => {
    const response = await request;
    expect(response.status, response.text).toBe(status);
  };
  const query = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows as T[];
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> => {
    const started = Date.now();
    while (!(await check().catch(() => false))) {
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(100);
    }
    return Date.now() - started;
  };
  const rolloutState = async (slug: string) =>
    (
      await query<{ state: string; processed: string }>(
        'SELECT rollout_state AS state, rollout_processed AS processed FROM segments WHERE slug = $1 AND deleted_at IS NULL',
        [slug],
      )
    )[0];
  const load = () =>
    new Load({
      apis: () => cluster.apis.map((service) => service.url),
      users: loadUsers,
      slugs: SLUGS,
      concurrency: 16,
      headers: TOKEN_HEADERS,
      expectations,
    });

  /** Load before, during and after `fault`, then wait for the background work, check everything and record a row. */
  async function scenario(name: string, fault: () => Promise<{ recoveryMs: number; note?: string }>): Promise<Row> {
    const running = load();
    running.start();
    await sleep(2000);
    const { recoveryMs, note = '' } = await fault();
    await sleep(2000);
    const stats = await running.stop();
    await until(
      'background work settles',
      async () => {
        const [pending] = await query<{ n: string }>(
          `SELECT count(*) AS n FROM segments WHERE (deleted_at IS NULL AND rollout_state IN ('pending', 'running')) OR (deleted_at IS NOT NULL AND purged_at IS NULL)`,
        );
        return Number(pending!.n) === 0;
      },
      120_000,
    );
    const violations = await allInvariants(db, expectations);
    const row = { scenario: name, stats, violations, recoveryMs, note };
    table.push(row);
    return row;
  }

  const expectHealthy = (row: Row) => {
    expect(row.violations, JSON.stringify(row.violations)).toEqual([]);
    expectOnlyDocumentedServerErrors(row.stats);
    expect(row.recoveryMs).toBeLessThanOrEqual(RECOVERY_LIMIT_MS);
  };

  beforeAll(async () => {
    const logs = mkdtempSync(join(tmpdir(), 'seg-faults-logs-'));
    [postgres, redis] = await Promise.all([PrivatePostgres.start(), PrivateRedis.start()]);
    db = new pg.Pool({ connectionString: postgres.url('segmentation'), max: 4 });
    db.on('error', () => undefined);
    cluster = await startCluster(
      {
        ...process.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        DATABASE_URL: postgres.url('segmentation'),
        DATABASE_POOL_SIZE: '8',
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'faults',
        REPORT_LINK_SECRET: 'fault-suite-report-link-secret-0123456789',
        AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
        PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
        LOG_LEVEL: 'info',
        JOB_BATCH_SIZE: '100',
        EXPIRY_SWEEP_INTERVAL_MS: '500',
        RECONCILE_INTERVAL_MS: '2000',
        RUN_MIGRATIONS: 'false',
      },
      logs,
    );
    console.log(`fault suite: PostgreSQL on ${postgres.port}, Redis on ${redis.port}, logs in ${logs}`);
    const apis = () => cluster.apis.map((service) => service.url);
    paged = new FeedFollower('pages', apis, BOOTSTRAP_TOKEN);
    streamed = new FeedFollower('stream', apis, BOOTSTRAP_TOKEN);
    paged.start();
    streamed.start();
    for (const slug of SLUGS) await expectStatus(api('/segments', 'POST', { slug }), 201);
    for (let first = 1; first <= USERS; first += 10_000) {
      const ids = Array.from({ length: 10_000 }, (_, index) => first + index);
      await expectStatus(api('/users/bulk', 'POST', { user_ids: ids }), 200);
    }
  }, 180_000);

  afterAll(async () => {
    try {
      await Promise.all([paged?.stop(), streamed?.stop()]);
      await cluster?.stop();
      await db?.end();
    } finally {
      await redis?.stop();
      await postgres?.destroy();
    }
    if (table.length > 0) {
      const report = printTable(table);
      console.log(`\n${report}`);
      writeFileSync(join(tmpdir(), 'seg-faults-table.md'), report);
    }
  }, 120_000);

  it('survives a PostgreSQL restart: requests fail fast with 503, nothing acknowledged is lost', async () => {
    const row = await scenario('PostgreSQL restart (3 s down)', async () => {
      await postgres.stop('fast');
      await sleep(3000);
      await postgres.start();
      return { recoveryMs: await cluster.untilAllReady(RECOVERY_LIMIT_MS) };
    });
    expectHealthy(row);
    expect(row.stats.failed['503'] ?? 0, 'requests during the outage answered 503').toBeGreaterThan(0);
    expect([...row.stats.serverProblems]).toEqual(['503 /problems/database-unavailable (Retry-After)']);
    expect(row.stats.slowestFailureMs, 'failures were fast').toBeLessThan(5000);
  });

  it('survives kill -9 of an API process', async () => {
    const row = await scenario('kill -9 of an API', async () => {
      const victim = cluster.apis[1]!;
      await victim.kill();
      await sleep(2000);
      victim.start();
      return { recoveryMs: await cluster.untilAllReady(RECOVERY_LIMIT_MS) };
    });
    expectHealthy(row);
  });

  it('resumes a rollout held by a worker killed with kill -9 within 60 s', async () => {
    let resumeMs = 0;
    const row = await scenario('kill -9 of a worker mid-rollout', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_AUTO_KILL', auto_percent: 40 }), 201);
      await until('rollout running', async () => Number((await rolloutState('F_AUTO_KILL'))?.processed ?? 0) > 0, 30_000);
      const [segment] = await query<{ id: number; version: number }>(
        `SELECT id, rollout_version AS version FROM segments WHERE slug = 'F_AUTO_KILL' AND deleted_at IS NULL`,
      );
      const holder = holderOf(cluster.workers, `rollout:${segment!.id}:${segment!.version}`);
      await holder.kill();
      const killedAt = Date.now();
      const processedAtKill = Number((await rolloutState('F_AUTO_KILL'))!.processed);
      await until(
        'rollout resumed by the other worker',
        async () =>
          Number((await rolloutState('F_AUTO_KILL'))!.processed) > processedAtKill + 100 ||
          (await rolloutState('F_AUTO_KILL'))!.state === 'done',
        RESUME_LIMIT_MS,
      );
      resumeMs = Date.now() - killedAt;
      holder.start();
      return { recoveryMs: await cluster.untilAllReady(RECOVERY_LIMIT_MS), note: `resumed after ${(resumeMs / 1000).toFixed(1)} s` };
    });
    expectHealthy(row);
    expect(resumeMs).toBeLessThanOrEqual(RESUME_LIMIT_MS);
  });

  it('resumes a CSV import held by a worker killed with kill -9, applying every id exactly once', async () => {
    let resumeMs = 0;
    const row = await scenario('kill -9 of a worker mid-import', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_IMPORT' }), 201);
      const ids = Array.from({ length: 30_000 }, (_, index) => 10_001 + index);
      const response = await fetch(`${cluster.apis[0]!.url}/segments/F_IMPORT/imports?mode=add`, {
        method: 'POST',
        headers: { ...TOKEN_HEADERS, 'content-type': 'text/csv' },
        body: `user_id\n${ids.join('\n')}\n`,
      });
      const started = (await response.json()) as { id: string; total: number };
      expect([response.status, started.total]).toEqual([202, ids.length]);
      const progress = async () =>
        (await query<{ processed: string; state: string }>('SELECT processed, state FROM imports WHERE id = $1', [started.id]))[0]!;
      await until('import running', async () => Number((await progress()).processed) > 0, 30_000);
      const holder = holderOf(cluster.workers, `import:${started.id}`);
      await holder.kill();
      const killedAt = Date.now();
      const processedAtKill = Number((await progress()).processed);
      await until(
        'import resumed by the other worker',
        async () => Number((await progress()).processed) > processedAtKill + 100 || (await progress()).state === 'done',
        RESUME_LIMIT_MS,
      );
      resumeMs = Date.now() - killedAt;
      holder.start();
      await until('import done', async () => (await progress()).state === 'done', 120_000);
      const [imported] = await query<{ members: string; history: string; added: string; processed: string }>(
        `SELECT (SELECT count(*) FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'F_IMPORT') AS members,
                (SELECT count(*) FROM membership_history WHERE segment_slug = 'F_IMPORT' AND operation = 'add') AS history,
                i.added, i.processed
         FROM imports i WHERE i.id = $1`,
        [started.id],
      );
      expect(imported).toEqual({
        members: String(ids.length),
        history: String(ids.length),
        added: String(ids.length),
        processed: String(ids.length),
      });
      return {
        recoveryMs: await cluster.untilAllReady(RECOVERY_LIMIT_MS),
        note: `${ids.length} ids, resumed after ${(resumeMs / 1000).toFixed(1)} s`,
      };
    });
    expectHealthy(row);
    expect(resumeMs).toBeLessThanOrEqual(RESUME_LIMIT_MS);
  });

  it('survives Redis stopped for 20 s: writes keep working, queued work catches up', async () => {
    await expectStatus(api('/segments', 'POST', { slug: 'F_DELETED_IN_OUTAGE' }), 201);
    for (const userId of [1, 2, 3]) await expectStatus(api(`/users/${userId}/segments`, 'PATCH', { add: ['F_DELETED_IN_OUTAGE'] }), 200);
    const row = await scenario('Redis stopped for 20 s', async () => {
      await redis.stop();
      await sleep(1000);
      // Work asked for while Redis is down is left to the reconcilers: it must start once Redis is back.
      await expectStatus(api('/segments', 'POST', { slug: 'F_AUTO_REDIS', auto_percent: 25 }), 201);
      await expectStatus(api('/segments/F_DELETED_IN_OUTAGE', 'DELETE'), 204);
      // API and worker alike say what is down, in the same problem shape.
      for (const service of cluster.all) {
        const response = await fetch(`${service.url}/health/ready`);
        const problem = (await response.json()) as { type: string; errors: unknown };
        expect([service.name, response.status, problem.type, problem.errors, response.headers.get('retry-after')]).toEqual([
          service.name,
          503,
          '/problems/not-ready',
          [{ field: 'redis', message: 'down' }],
          '5',
        ]);
      }
      await sleep(18_000);
      await redis.start();
      return { recoveryMs: await cluster.untilAllReady(RECOVERY_LIMIT_MS) };
    });
    expectHealthy(row);
    expect(row.stats.acknowledged, 'writes acknowledged during the outage').toBe(row.stats.requests);
  });

  it('expires memberships with two workers sweeping: each removed once, with history at its instant', async () => {
    const row = await scenario('TTL expiry with two workers', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_TTL' }), 201);
      const expiresAt = new Date(Date.now() + 8000).toISOString();
      const users = Array.from({ length: 500 }, (_, index) => LOAD_USERS + 1 + index);
      await inParallel(
        users.map(
          (userId) => () =>
            expectStatus(api(`/users/${userId}/segments`, 'PATCH', { add: [{ slug: 'F_TTL', expires_at: expiresAt }] }), 200),
        ),
        16,
      );
      await until(
        'every F_TTL membership expired and removed',
        async () => {
          const [left] = await query<{ n: string }>(
            `SELECT count(*) AS n FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'F_TTL'`,
          );
          return Number(left!.n) === 0;
        },
        30_000,
      );
      const [history] = await query<{ n: string; at: string }>(
        `SELECT count(*) AS n, count(DISTINCT occurred_at) AS at FROM membership_history WHERE segment_slug = 'F_TTL' AND reason = 'ttl'`,
      );
      expect(Number(history!.n)).toBe(users.length);
      expect(Number(history!.at)).toBe(1);
      return { recoveryMs: 0, note: `${users.length} removed once each` };
    });
    expectHealthy(row);
  });

  it('keeps explicit removals that race a running rollout', async () => {
    const row = await scenario('removal racing a rollout', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_AUTO_RACE', auto_percent: 100 }), 201);
      // Highest ids first, against the rollout's ascending walk: the first removals come before it
      // reaches their users, the last ones after it added them.
      const removed = Array.from({ length: 1000 }, (_, index) => 5001 + index * 3).reverse();
      await inParallel(
        removed.map((userId) => () => expectStatus(api(`/users/${userId}/segments`, 'PATCH', { remove: ['F_AUTO_RACE'] }), 200)),
        16,
      );
      await until('rollout done', async () => (await rolloutState('F_AUTO_RACE'))!.state === 'done', 120_000);
      const [back] = await query<{ n: string }>(
        `SELECT count(*) AS n FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'F_AUTO_RACE' AND m.user_id = ANY($1::bigint[])`,
        [removed],
      );
      expect(Number(back!.n), 'removed users added back by the rollout').toBe(0);
      // The race happened both ways: users the rollout had added when their removal came, and users it reached after.
      const [overlap] = await query<{ after: string }>(
        `SELECT count(DISTINCT h.user_id) AS after FROM membership_history h JOIN segments s ON s.id = h.segment_id
         WHERE s.slug = 'F_AUTO_RACE' AND h.user_id = ANY($1::bigint[]) AND h.reason = 'auto' AND h.operation = 'add'`,
        [removed],
      );
      expect(Number(overlap!.after), 'removals of users the rollout had added').toBeGreaterThan(0);
      const before = removed.length - Number(overlap!.after);
      expect(before, 'removals before the rollout reached their users').toBeGreaterThan(0);
      return { recoveryMs: 0, note: `${overlap!.after} removals after the rollout added the user, ${before} before it reached them` };
    });
    expectHealthy(row);
  });

  it('leaves no member of a segment deleted while adds race it', async () => {
    const row = await scenario('segment deletion racing adds', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_DOOMED' }), 201);
      const users = Array.from({ length: 600 }, (_, index) => 8001 + index);
      const statuses: number[] = [];
      const adds = Promise.all(
        users.map(async (userId, index) => {
          await sleep(index);
          statuses.push((await api(`/users/${userId}/segments`, 'PATCH', { add: ['F_DOOMED'] })).status);
        }),
      );
      await sleep(300);
      await expectStatus(api('/segments/F_DOOMED', 'DELETE'), 204);
      await adds;
      expect(statuses.every((status) => status === 200 || status === 422)).toBe(true);
      // The deletion landed among the adds: some were applied before it, some refused after.
      expect(statuses.filter((status) => status === 200).length, 'adds before the deletion').toBeGreaterThan(0);
      expect(statuses.filter((status) => status === 422).length, 'adds after the deletion').toBeGreaterThan(0);
      return {
        recoveryMs: 0,
        note: `${statuses.filter((status) => status === 200).length} adds before, ${statuses.filter((status) => status === 422).length} after`,
      };
    });
    expectHealthy(row);
  });

  it('runs campaigns among concurrent writes of the same users: every change recorded once', async () => {
    const row = await scenario('campaigns during writes', async () => {
      await expectStatus(api('/segments', 'POST', { slug: 'F_CAMPAIGN' }), 201);
      // The load's users and more: campaign transactions and the load's writes meet on the same users.
      const ids = Array.from({ length: 8000 }, (_, index) => index + 1);
      await expectStatus(api('/segments/F_CAMPAIGN/members', 'POST', { add: ids }), 200);
      await expectStatus(api('/segments/F_CAMPAIGN/members', 'POST', { remove: ids.filter((id) => id % 2 === 1) }), 200);
      await expectStatus(api('/segments', 'POST', { slug: 'F_AUTO_CAMPAIGN', auto_percent: 50 }), 201);
      await until('rollout done', async () => (await rolloutState('F_AUTO_CAMPAIGN'))!.state === 'done', 120_000);
      await expectStatus(api('/segments/F_CAMPAIGN', 'DELETE'), 204);
      return { recoveryMs: 0, note: `bulk add and removal of ${ids.length} users, a 50 % rollout, a purge` };
    });
    expectHealthy(row);
  });

  it('keeps the change feed whole through every fault: paged and streamed, every change once, in one order, replaying to the memberships', async () => {
    const historyCount = async () => Number((await query<{ n: string }>('SELECT count(*) AS n FROM membership_history'))[0]!.n);
    await until(
      'the feed consumers catch up',
      async () => {
        const total = await historyCount();
        return paged.changes.length >= total && streamed.changes.length >= total;
      },
      60_000,
    );
    const total = await historyCount();
    for (const follower of [paged, streamed]) {
      const cursors = follower.changes.map((change) => change.cursor);
      expect(new Set(cursors).size, 'no change twice').toBe(cursors.length);
      expect(cursors.length, 'no change missed').toBe(total);
    }
    expect(streamed.changes.map((change) => change.cursor)).toEqual(paged.changes.map((change) => change.cursor));
    // Each user's changes in the order they happened: replaying the feed adds only what is absent,
    // removes only what is present, and ends at exactly the memberships there are.
    const replayed = new Set<string>();
    const misordered: string[] = [];
    for (const change of paged.changes) {
      const key = `${change.user_id}:${change.segment}`;
      if ((change.operation === 'add') === replayed.has(key)) misordered.push(`${change.operation} ${key} at ${change.cursor}`);
      if (change.operation === 'add') replayed.add(key);
      else replayed.delete(key);
    }
    expect(misordered.slice(0, 10), 'changes out of their user’s order').toEqual([]);
    const memberships = await query<{ key: string }>(
      `SELECT m.user_id || ':' || s.slug AS key FROM memberships m JOIN segments s ON s.id = m.segment_id`,
    );
    expect([...replayed].sort()).toEqual(memberships.map((membership) => membership.key).sort());
    expect(streamed.reconnects, 'the stream was cut by the faults and resumed').toBeGreaterThan(0);
    console.log(`change feed: ${total} changes paged and streamed; the stream reconnected ${streamed.reconnects} times`);
  }, 90_000);
});

/** Runs `tasks` with at most `limit` of them in flight. */
async function inParallel(tasks: (() => Promise<unknown>)[], limit: number): Promise<void> {
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    }),
  );
}

/** The worker whose log says it started `jobId` last. */
function holderOf(workers: ServiceProcess[], jobId: string): ServiceProcess {
  const started = workers.filter((worker) => worker.log().includes(`"jobId":"${jobId}"`));
  if (started.length === 0) throw new Error(`no worker logged ${jobId}`);
  return started[0]!;
}

function printTable(rows: Row[]): string {
  const header = '| scenario | requests | acknowledged | failed by status | violations | recovery | note |\n|---|---|---|---|---|---|---|';
  const lines = rows.map((row) => {
    const failed =
      Object.entries(row.stats.failed)
        .map(([status, count]) => `${status}: ${count}`)
        .join(', ') || '—';
    const violations =
      row.violations.length === 0 ? '0' : row.violations.map((violation) => `${violation.check}: ${violation.count}`).join('; ');
    return `| ${row.scenario} | ${row.stats.requests} | ${row.stats.acknowledged} | ${failed} | ${violations} | ${(row.recoveryMs / 1000).toFixed(1)} s | ${row.note} |`;
  });
  return [header, ...lines].join('\n');
}
