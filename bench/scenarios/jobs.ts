import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../context.js';
import { until, withDb } from '../dataset.js';
import { since, timePsql } from '../psql.js';
import { fixed, thousands, type Row } from '../table.js';

const api = (context: BenchContext, path: string, method = 'GET', body?: object) =>
  fetch(
    `${context.api.url}${path}`,
    body
      ? { method, headers: { 'content-type': 'application/json', ...context.auth }, body: JSON.stringify(body) }
      : { method, headers: context.auth },
  );

/**
 * Percent assignment over every registered user (50 %), through the API and the worker,
 * beside one hand-written INSERT … SELECT (with history) of the same rows in psql.
 */
export async function rollout(context: BenchContext): Promise<Row[]> {
  const baselineSql = (segmentId: number) => `
    WITH added AS (
      INSERT INTO memberships (user_id, segment_id, source)
      SELECT id, ${segmentId}, 'auto' FROM users WHERE segment_bucket(${segmentId}, id) < 5000
      RETURNING user_id)
    INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, occurred_at, feed_batch)
    SELECT user_id, ${segmentId}, 'BENCH_ROLLOUT_BASELINE', 'add', 'auto', clock_timestamp(), 0 FROM added`;
  const baselineId = await withDb(
    context.databaseUrl,
    async (db) => (await db.query(`INSERT INTO segments (slug) VALUES ('BENCH_ROLLOUT_BASELINE') RETURNING id`)).rows[0].id,
  );
  const baseline = timePsql(context.databaseUrl, baselineSql(baselineId));

  const worker = await context.worker();
  const started = process.hrtime.bigint();
  await api(context, '/segments', 'POST', { slug: 'BENCH_ROLLOUT', auto_percent: 50 });
  await until(
    async () => ((await (await api(context, '/segments/BENCH_ROLLOUT')).json()) as { rollout: { state: string } }).rollout.state === 'done',
    600,
  );
  const seconds = since(started);
  await worker.stop();
  const members = await withDb(context.databaseUrl, async (db) =>
    Number(
      (await db.query(`SELECT count(*) FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'BENCH_ROLLOUT'`)).rows[0]
        .count,
    ),
  );
  const ratio = seconds / baseline;
  return [
    {
      path: `percent rollout over ${thousands(context.size.users)} users (50 %)`,
      figure: `${fixed(seconds)} s (${thousands(members)} members)`,
      baseline: `${fixed(baseline)} s INSERT … SELECT with history (psql)`,
      ratio: `${fixed(ratio)}×`,
      target: '≤ 3×, < 60 s',
      pass: ratio <= 3 && seconds < 60,
    },
  ];
}

/** Deleting a segment with every user as a member: request time, then background cleanup beside raw SQL. */
export async function deletion(context: BenchContext): Promise<Row[]> {
  const fill = (slug: string) =>
    withDb(context.databaseUrl, async (db) => {
      const id = (await db.query(`INSERT INTO segments (slug) VALUES ($1) RETURNING id`, [slug])).rows[0].id as number;
      await db.query(`INSERT INTO memberships (user_id, segment_id, source) SELECT id, $1, 'manual' FROM users`, [id]);
      await db.query('ANALYZE memberships');
      return id;
    });
  const baselineId = await fill('BENCH_DELETE_BASELINE');
  const baseline = timePsql(
    context.databaseUrl,
    `WITH removed AS (DELETE FROM memberships WHERE segment_id = ${baselineId} RETURNING user_id)
     INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, occurred_at, feed_batch)
     SELECT user_id, ${baselineId}, 'BENCH_DELETE_BASELINE', 'remove', 'segment_deleted', clock_timestamp(), 0 FROM removed`,
  );
  const id = await fill('BENCH_DELETE');
  const members = await withDb(context.databaseUrl, async (db) =>
    Number((await db.query('SELECT count(*) FROM memberships WHERE segment_id = $1', [id])).rows[0].count),
  );

  const worker = await context.worker();
  const started = process.hrtime.bigint();
  const response = await api(context, '/segments/BENCH_DELETE', 'DELETE');
  const requestMs = since(started) * 1000;
  if (response.status !== 204) throw new Error(`DELETE answered ${response.status}: ${await response.text()}`);
  await until(
    () =>
      withDb(
        context.databaseUrl,
        async (db) => (await db.query('SELECT purged_at FROM segments WHERE id = $1', [id])).rows[0].purged_at !== null,
      ),
    600,
  );
  const cleanup = since(started);
  await worker.stop();
  const ratio = cleanup / baseline;
  return [
    {
      path: `DELETE /segments/{slug} with ${thousands(members)} members: request`,
      figure: `${fixed(requestMs, 1)} ms (status ${response.status})`,
      baseline: '—',
      ratio: '—',
      target: '≤ 200 ms',
      pass: response.status === 204 && requestMs <= 200,
    },
    {
      path: `… background cleanup with history`,
      figure: `${fixed(cleanup)} s`,
      baseline: `${fixed(baseline)} s DELETE … RETURNING + history (psql)`,
      ratio: `${fixed(ratio)}×`,
      target: '≤ 3×',
      pass: ratio <= 3,
    },
  ];
}

/** 100 000 memberships (10 000 with --quick) expiring at one instant: all removed, with history, within 60 s. */
export async function expiry(context: BenchContext): Promise<Row[]> {
  const count = context.quick ? 10_000 : 100_000;
  const worker = await context.worker();
  const instant = await withDb(context.databaseUrl, async (db) => {
    const { rows } = await db.query(
      `UPDATE memberships SET expires_at = date_trunc('second', now()) + interval '3 seconds'
       WHERE (user_id, segment_id) IN (SELECT user_id, segment_id FROM memberships WHERE expires_at IS NULL ORDER BY user_id DESC LIMIT $1)
       RETURNING expires_at`,
      [count],
    );
    return rows[0].expires_at as Date;
  });
  await sleep(Math.max(0, instant.getTime() - Date.now()));
  const started = process.hrtime.bigint();
  await until(
    () =>
      withDb(context.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM membership_history WHERE reason = 'ttl' AND occurred_at = $1`, [
          instant,
        ]);
        return rows[0].n >= count;
      }),
    300,
  );
  const seconds = since(started);
  await worker.stop();
  return [
    {
      path: `${thousands(count)} memberships expiring at one instant`,
      figure: `all removed with history ${fixed(seconds)} s after the instant`,
      baseline: '—',
      ratio: '—',
      target: '≤ 60 s',
      pass: seconds <= 60,
    },
  ];
}

/**
 * 1 000 000 new user ids (100 000 with --quick) through POST /users/bulk, 100 000 (10 000)
 * per request, with the data set's (manual) segments. The ids are removed again afterwards
 * so that the rollout benchmark still covers the data set's users only.
 */
export async function bulkRegistration(context: BenchContext): Promise<Row[]> {
  const total = context.quick ? 100_000 : 1_000_000;
  const batch = total / 10;
  const first = context.size.users + 10_000_000;
  const started = process.hrtime.bigint();
  let created = 0;
  for (let offset = 0; offset < total; offset += batch) {
    const ids = Array.from({ length: batch }, (_, index) => first + offset + index);
    const response = await api(context, '/users/bulk', 'POST', { user_ids: ids });
    created += ((await response.json()) as { created: number }).created;
  }
  const seconds = since(started);
  await withDb(context.databaseUrl, (db) => db.query('DELETE FROM users WHERE id >= $1', [first]));
  return [
    {
      path: `bulk registration of ${thousands(total)} user ids`,
      figure: `${fixed(seconds)} s (${thousands(created)} created)`,
      baseline: '—',
      ratio: '—',
      target: '≤ 30 s',
      pass: created === total && seconds <= 30,
    },
  ];
}
