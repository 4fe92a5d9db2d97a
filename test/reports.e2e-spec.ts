import { ReportLinks } from '#libs/reports';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

const insertHistory = (t: TestApp, rows: [number, string, 'add' | 'remove', string][]) =>
  t.db.query(
    `INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, actor, occurred_at)
     SELECT u, 1, s, o, 'manual', 'ops', at FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS r (u, s, o, at)`,
    [rows.map((row) => row[0]), rows.map((row) => row[1]), rows.map((row) => row[2]), rows.map((row) => row[3])],
  );

describe('history reports', () => {
  let t: TestApp;
  const linkPath = (url: string) => new URL(url).pathname;
  const reportOf = async (query: Record<string, string | number>) => {
    const res = await t.http().get('/reports/segment-history').query(query).expect(200);
    return linkPath(res.body.report_url);
  };

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.get(ReportLinks); // fail early if the module is not wired
    await insertHistory(t, [
      [1000, 'AVITO_VOICE_MESSAGES', 'add', '2025-10-31T23:59:59.999Z'],
      [1000, 'AVITO_VOICE_MESSAGES', 'add', '2025-11-01T00:00:00.000Z'],
      [1002, 'AVITO_DISCOUNT_30', 'add', '2025-11-03T10:15:00.250Z'],
      [1000, 'AVITO_VOICE_MESSAGES', 'remove', '2025-11-30T23:59:59.999Z'],
      [1000, 'AVITO_DISCOUNT_50', 'add', '2025-12-01T00:00:00.000Z'],
    ]);
  });
  afterAll(async () => t?.close());

  it('hands out an absolute link that streams the month as CSV, in time order', async () => {
    const link = await t.http().get('/reports/segment-history?year=2025&month=11').expect(200);
    expect(link.body.report_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/reports\/segment-history\/[\w-]+\.[\w-]+$/);
    const res = await t.http().get(linkPath(link.body.report_url)).expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="segment-history-2025-11.csv"');
    expect(res.text).toBe(
      [
        'user_id;segment;operation;occurred_at;actor',
        '1000;AVITO_VOICE_MESSAGES;add;2025-11-01T00:00:00.000Z;ops',
        '1002;AVITO_DISCOUNT_30;add;2025-11-03T10:15:00.250Z;ops',
        '1000;AVITO_VOICE_MESSAGES;remove;2025-11-30T23:59:59.999Z;ops',
        '',
      ].join('\n'),
    );
  });

  it('puts an entry at 23:59:59.999 on the last day in that month only', async () => {
    const october = (
      await t
        .http()
        .get(await reportOf({ year: 2025, month: 10 }))
        .expect(200)
    ).text;
    expect(october.trim().split('\n')).toEqual([
      'user_id;segment;operation;occurred_at;actor',
      '1000;AVITO_VOICE_MESSAGES;add;2025-10-31T23:59:59.999Z;ops',
    ]);
    const december = (
      await t
        .http()
        .get(await reportOf({ year: 2025, month: 12 }))
        .expect(200)
    ).text;
    expect(december).not.toContain('2025-11-30');
  });

  it('filters by user', async () => {
    const res = await t
      .http()
      .get(await reportOf({ year: 2025, month: 11, user_id: 1002 }))
      .expect(200);
    expect(res.headers['content-disposition']).toContain('segment-history-2025-11-user-1002.csv');
    expect(res.text).toBe('user_id;segment;operation;occurred_at;actor\n1002;AVITO_DISCOUNT_30;add;2025-11-03T10:15:00.250Z;ops\n');
  });

  it('gives the same content from the same link after more entries were written for that month', async () => {
    const path = await reportOf({ year: 2025, month: 9 });
    const first = (await t.http().get(path).expect(200)).text;
    await insertHistory(t, [[1000, 'LATE_TTL_ENTRY', 'remove', '2025-09-15T00:00:00Z']]);
    expect((await t.http().get(path).expect(200)).text).toBe(first);
    expect(
      (
        await t
          .http()
          .get(await reportOf({ year: 2025, month: 9 }))
          .expect(200)
      ).text,
    ).toContain('LATE_TTL_ENTRY');
  });

  it('quotes values as CSV requires', async () => {
    await insertHistory(t, [[1000, 'odd;slug "quoted"', 'add', '2025-08-01T00:00:00Z']]);
    const res = await t
      .http()
      .get(await reportOf({ year: 2025, month: 8 }))
      .expect(200);
    expect(res.text).toBe('user_id;segment;operation;occurred_at;actor\n1000;"odd;slug ""quoted""";add;2025-08-01T00:00:00.000Z;ops\n');
  });

  it.each([
    ['month=13', 'month'],
    ['month=0', 'month'],
    ['year=0', 'year'],
    ['year=abc', 'year'],
    ['user_id=0', 'user_id'],
    ['colour=red', 'colour'],
  ])('rejects %s', async (extra, field) => {
    const query = { year: '2025', month: '11', ...Object.fromEntries([extra.split('=')]) };
    const res = await t.http().get('/reports/segment-history').query(query);
    expectProblem(res, 400, '/problems/validation-error');
    expect(res.body.errors.map((error: { field: string }) => error.field)).toContain(field);
  });

  it('rejects a month in the future and accepts the current one', async () => {
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expectProblem(
      await t
        .http()
        .get('/reports/segment-history')
        .query({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1 }),
      400,
      '/problems/validation-error',
    );
    await t
      .http()
      .get('/reports/segment-history')
      .query({ year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 })
      .expect(200);
  });

  it('refuses tampered, foreign and expired links with a problem, never a file', async () => {
    const path = await reportOf({ year: 2025, month: 11 });
    const [body, signature] = path.split('/').at(-1)!.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), u: 1002 })).toString(
      'base64url',
    );
    for (const candidate of [`${forged}.${signature}`, `${body}.${signature}x`, 'abc', '..%2F..%2Fetc%2Fpasswd', `${body}`]) {
      expectProblem(await t.http().get(`/reports/segment-history/${candidate}`), 403, '/problems/invalid-report-link');
    }
    const expired = t.app.get(ReportLinks).issue({ year: 2025, month: 11, format: 'csv' }, new Date(Date.now() - 2 * 24 * 3600 * 1000));
    expectProblem(await t.http().get(`/reports/segment-history/${expired}`), 410, '/problems/report-link-expired');
  });

  it('serves the original CSV format through the compatibility route', async () => {
    const res = await t.http().get('/segment/history/1000?year=2025&month=11').expect(200);
    expect(Object.keys(res.body)).toEqual(['report_link']);
    const csv = await t.http().get(linkPath(res.body.report_link)).expect(200);
    expect(csv.text).toBe(
      [
        'user_id,segment_slug,operation,executed_at',
        '1000,AVITO_VOICE_MESSAGES,I,2025-11-01 00:00:00',
        '1000,AVITO_VOICE_MESSAGES,D,2025-11-30 23:59:59',
        '',
      ].join('\n'),
    );
    expectProblem(await t.http().get('/segment/history/1000?year=2025'), 400, '/problems/validation-error');
  });

  it('streams a large report with bounded server memory', async () => {
    const rows = 300_000;
    await t.db.query(
      `INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, occurred_at)
       SELECT 1 + g % 5000, 1, 'AVITO_BULK_SEGMENT_' || (g % 20), 'add', 'auto', '2025-07-01T00:00:00Z'::timestamptz + g * interval '1 second'
       FROM generate_series(1, $1) AS g`,
      [rows],
    );
    const path = await reportOf({ year: 2025, month: 7 });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;

    const memory = () => {
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.external;
    };
    const baseline = memory();
    let peak = baseline;
    let bytes = 0;
    let lines = 0;
    let copyRunningWhilePaused: number | undefined;
    await new Promise<void>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path }, (res) => {
        res.once('data', () => {
          // A client that stops reading must stop the server's COPY too (back-pressure), not make it buffer.
          res.pause();
          setTimeout(async () => {
            const { rows: active } = await t.db.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (%' AND state = 'active'`,
            );
            copyRunningWhilePaused = active[0].n;
            res.resume();
          }, 500);
        });
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          for (const byte of chunk) if (byte === 10) lines++;
          peak = Math.max(peak, memory());
        });
        res.on('end', resolve);
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(lines).toBe(rows + 1);
    expect(bytes).toBeGreaterThan(15_000_000);
    expect(copyRunningWhilePaused).toBe(1);
    expect(peak - baseline).toBeLessThan(48 * 1024 * 1024);
  });
});
