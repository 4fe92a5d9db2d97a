import { getQueueToken } from '@nestjs/bull';
import { QUEUE_NAME } from '#libs/queue';
import type { Queue } from 'bull';
import { readFileSync } from 'node:fs';
import { segmentBucket } from '#libs/segments';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, eventually, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** Every series name a scrape exposes, histogram series included. */
function exposedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** Metric names a PromQL expression refers to (identifiers that are not functions, keywords or labels). */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '');
  const keywords = new Set(['sum', 'max', 'min', 'avg', 'rate', 'increase', 'histogram_quantile', 'clamp_min', 'by', 'without']);
  return [...withoutLabels.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((match) => match[1]!).filter((name) => !keywords.has(name));
}

describe('operations', () => {
  let t: TestApp;
  const scrape = async () => (await t.http().get('/metrics').expect(200)).text;
  const value = (text: string, series: RegExp) =>
    text
      .split('\n')
      .filter((line) => series.test(line))
      .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);

  beforeAll(async () => {
    t = await createTestApp({ RUN_WORKER_IN_API: true, JOB_BATCH_SIZE: 100, RECONCILE_INTERVAL_MS: 300, EXPIRY_SWEEP_INTERVAL_MS: 300 });
    await t.http().post('/segments').send({ slug: 'OPS' }).expect(201);
  });
  afterAll(async () => t?.close());

  describe('health', () => {
    it('is live and ready when PostgreSQL, Redis and the schema are', async () => {
      expect((await t.http().get('/health/live').expect(200)).body).toEqual({ status: 'ok', checks: {} });
      expect((await t.http().get('/health/ready').expect(200)).body).toEqual({
        status: 'ok',
        checks: { database: 'up', migrations: 'up', redis: 'up' },
      });
    });

    it('is not ready, naming Redis, while Redis is unreachable; still live', async () => {
      const app = await t.spawn({ REDIS_URL: 'redis://127.0.0.1:1' });
      try {
        const http = (await import('supertest')).default(app.getHttpServer());
        const res = await http.get('/health/ready');
        expectProblem(res, 503, '/problems/not-ready');
        expect(res.body.errors).toEqual([{ field: 'redis', message: 'down' }]);
        expect(res.headers['retry-after']).toBe('5');
        await http.get('/health/live').expect(200);
      } finally {
        await app.close();
      }
    });
  });

  describe('metrics', () => {
    it('labels requests by route template and counts them', async () => {
      const before = await scrape();
      const series = /^http_requests_total\{(?=.*method="GET")(?=.*route="\/users\/:user_id\/segments")(?=.*status_code="200")/;
      for (const userId of [11, 12, 13]) await t.http().get(`/users/${userId}/segments`).expect(200);
      await t.http().get('/nowhere').expect(404);
      const after = await scrape();
      expect(value(after, series) - value(before, series)).toBe(3);
      expect(after).toMatch(/http_request_duration_seconds_bucket\{le="0.005",.*route="\/users\/:user_id\/segments"/);
      expect(after).toMatch(/http_requests_total\{(?=.*route="unmatched")(?=.*status_code="404")/);
      expect(after).not.toMatch(/route="\/users\/1[123]\//);
      expect(after).toMatch(/^db_pool_connections\{.*state="total"/m);
      expect(after).toMatch(/^process_resident_memory_bytes/m);
    });

    it('counts committed membership changes and job runs', async () => {
      const changes = /^membership_changes_total\{(?=.*operation="add")(?=.*reason="manual")/;
      const before = await scrape();
      await t
        .http()
        .patch('/users/21/segments')
        .send({ add: ['OPS'] })
        .expect(200);
      await t
        .http()
        .patch('/users/21/segments')
        .send({ add: ['OPS'] })
        .expect(200);
      await t
        .http()
        .patch('/users/22/segments')
        .send({ add: ['OPS', 'NOPE'] })
        .expect(422);
      await t.http().post('/segments').send({ slug: 'OPS_AUTO', auto_percent: 50 }).expect(201);
      await eventually(async () => (await t.http().get('/segments/OPS_AUTO')).body.rollout.state === 'done');
      const after = await eventually(async () => {
        const text = await scrape();
        return /job_duration_seconds_count\{.*job="segment.rollout"/.test(text) && text;
      });
      expect(value(after, changes) - value(before, changes)).toBe(1);
      expect(after).toMatch(/^queue_jobs\{state="waiting"/m);
      expect(after).toMatch(/^segments\{state="active",service="api"\} 2$/m);
    });
  });

  describe('logs', () => {
    it('hands the request id to the jobs a request enqueues', async () => {
      const api = await createTestApp();
      try {
        await api.http().post('/segments').set('x-request-id', 'trace-42').send({ slug: 'TRACED', auto_percent: 10 }).expect(201);
        const id = Number((await api.db.query(`SELECT id FROM segments WHERE slug = 'TRACED'`)).rows[0].id);
        const queue = api.app.get<Queue>(getQueueToken(QUEUE_NAME));
        const job = await queue.getJob(`rollout:${id}:1`);
        expect(job?.data).toEqual({ segmentId: id, version: 1, requestId: 'trace-42' });
      } finally {
        await api.close();
      }
    });
  });

  describe('dashboard and Prometheus configuration', () => {
    it('only queries metrics the service exports', async () => {
      const exposed = exposedNames(await scrape());
      const dashboard = JSON.parse(read('ops/grafana/dashboards/segmentation.json'));
      const exprs = dashboard.panels.flatMap((panel: { targets: { expr: string }[] }) => panel.targets.map((target) => target.expr));
      expect(exprs.length).toBeGreaterThanOrEqual(10);
      for (const expr of exprs) {
        for (const name of metricNames(expr)) expect(exposed.has(name), `${name} in ${expr}`).toBe(true);
      }
    });

    it('scrapes the API and the worker on the ports and path they serve metrics on', () => {
      const config = parse(read('ops/prometheus/prometheus.yml'));
      type Job = { job_name: string; metrics_path: string; authorization?: object; static_configs: { targets: string[] }[] };
      const targets = Object.fromEntries(
        config.scrape_configs.map((job: Job) => [
          job.job_name,
          { path: job.metrics_path, auth: job.authorization, targets: job.static_configs.flatMap((group) => group.targets) },
        ]),
      );
      // /metrics needs a token: every job sends the one the compose file writes for Prometheus.
      const auth = { type: 'Bearer', credentials_file: '/prometheus/token' };
      expect(targets).toEqual({
        api: { path: '/metrics', auth, targets: ['api:3000'] },
        worker: { path: '/metrics', auth, targets: ['worker:3001'] },
      });
      const compose = parse(read('docker-compose.yml'));
      expect(compose.services.api.environment.PORT).toBe('3000');
      expect(compose.services.worker.environment.WORKER_PORT).toBe('3001');
      expect(compose.services.prometheus.entrypoint.join(' ')).toContain('/prometheus/token');
    });
  });

  describe('graceful shutdown', () => {
    it('stops a running rollout between chunks: nothing half-applied, and a restart finishes it', async () => {
      await t.app.close();
      t.app = await t.spawn({ RUN_WORKER_IN_API: false });
      await t
        .http()
        .post('/users/bulk')
        .send({ user_ids: Array.from({ length: 3000 }, (_, index) => 100_000 + index) })
        .expect(200);
      await t.http().post('/segments').send({ slug: 'OPS_SHUTDOWN', auto_percent: 40 }).expect(201);
      const id = Number((await t.db.query(`SELECT id FROM segments WHERE slug = 'OPS_SHUTDOWN'`)).rows[0].id);

      const worker = await t.spawn({ JOB_BATCH_SIZE: 20 });
      await eventually(
        async () =>
          Number((await t.db.query('SELECT rollout_processed FROM segments WHERE id = $1', [id])).rows[0].rollout_processed) >= 200,
      );
      await worker.close(); // what SIGTERM triggers (enableShutdownHooks)

      const { rows } = await t.db.query('SELECT rollout_state, rollout_cursor FROM segments WHERE id = $1', [id]);
      const cursor = Number(rows[0].rollout_cursor);
      expect(rows[0].rollout_state).toBe('running');
      const users = (await t.db.query('SELECT id::int FROM users ORDER BY id')).rows.map((row: { id: number }) => row.id);
      const upToCursor = users.filter((user) => user <= cursor && segmentBucket(id, user) < 4000);
      const assigned = (await t.db.query('SELECT user_id::int AS id FROM memberships WHERE segment_id = $1 ORDER BY 1', [id])).rows.map(
        (row: { id: number }) => row.id,
      );
      expect(assigned).toEqual(upToCursor);
      expect(Number((await t.db.query('SELECT count(*) FROM membership_history WHERE segment_id = $1', [id])).rows[0].count)).toBe(
        assigned.length,
      );

      const restarted = await t.spawn();
      try {
        await eventually(async () => (await t.http().get('/segments/OPS_SHUTDOWN')).body.rollout.state === 'done');
      } finally {
        await restarted.close();
      }
      const final = (await t.db.query('SELECT count(*)::int AS n FROM memberships WHERE segment_id = $1', [id])).rows[0].n;
      expect(final).toBe(users.filter((user) => segmentBucket(id, user) < 4000).length);
    });
  });
});
