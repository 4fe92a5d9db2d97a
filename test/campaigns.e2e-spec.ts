import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, eventually, type TestApp } from './support/app.js';
import { factories } from './support/factories.js';
import { expectProblem } from './support/problems.js';

/** Campaign-sized changes: bulk members, CSV imports, batch lookups. */
describe('campaigns', () => {
  let t: TestApp;
  const make = () => factories(t.db);
  const members = (slug: string) =>
    t.db
      .query(
        `SELECT m.user_id::int AS id, m.source FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = $1 AND s.deleted_at IS NULL ORDER BY 1`,
        [slug],
      )
      .then((result) => result.rows as { id: number; source: string }[]);
  const importFile = (slug: string, mode: string, csv: string, query: Record<string, string> = {}) =>
    t
      .http()
      .post(`/segments/${slug}/imports`)
      .query({ mode, ...query })
      .set('content-type', 'text/csv')
      .send(csv);
  const finished = (id: string) =>
    eventually(async () => {
      const body = (await t.http().get(`/imports/${id}`).expect(200)).body;
      return body.state !== 'running' && body;
    }, 20_000);

  beforeAll(async () => {
    t = await createTestApp({ RUN_WORKER_IN_API: true, JOB_BATCH_SIZE: 7, RECONCILE_INTERVAL_MS: 300, IMPORT_BODY_LIMIT_BYTES: 64 * 1024 });
    for (const slug of ['CAMPAIGN', 'LIST', 'OTHER']) await t.http().post('/segments').send({ slug }).expect(201);
  });
  afterAll(async () => t?.close());

  describe('POST /segments/{slug}/members', () => {
    it('adds and removes many users atomically, registering unknown ones, counting real changes, one history entry each', async () => {
      await t.http().post('/segments').send({ slug: 'AUTO_ALL', auto_percent: 100 }).expect(201);
      await eventually(async () => (await t.http().get('/segments/AUTO_ALL').expect(200)).body.rollout.state === 'done');
      await t
        .http()
        .patch('/users/10/segments')
        .send({ add: ['CAMPAIGN'] })
        .expect(200);
      const res = await t
        .http()
        .post('/segments/CAMPAIGN/members')
        .send({ add: [10, 11, 12, 12, 13], remove: [14] })
        .expect(200);
      expect(res.body).toEqual({ added: 3, removed: 0 });
      expect((await members('CAMPAIGN')).map((row) => row.id)).toEqual([10, 11, 12, 13]);
      // Unknown users were registered with their automatic segments.
      expect((await members('AUTO_ALL')).map((row) => row.id)).toEqual(expect.arrayContaining([11, 12, 13]));
      expect((await make().history(12)).map((row) => `${row.operation} ${row.segment_slug} ${row.reason}`)).toEqual(
        expect.arrayContaining(['add CAMPAIGN manual', 'add AUTO_ALL auto']),
      );
      const again = await t
        .http()
        .post('/segments/CAMPAIGN/members')
        .send({ add: [11], remove: [12, 99], ttl_seconds: 600 })
        .expect(200);
      expect(again.body).toEqual({ added: 0, removed: 1 });
      const { rows } = await t.db.query(
        `SELECT expires_at FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'CAMPAIGN' AND user_id = 11`,
      );
      expect(rows[0].expires_at).not.toBeNull();
    });

    it('makes bulk removals stick against automatic assignment', async () => {
      const res = await t
        .http()
        .post('/segments/AUTO_ALL/members')
        .send({ remove: [11, 12] })
        .expect(200);
      expect(res.body).toEqual({ added: 0, removed: 2 });
      await t.http().patch('/segments/AUTO_ALL').send({ auto_percent: 100 }).expect(200);
      await eventually(async () => (await t.http().get('/segments/AUTO_ALL').expect(200)).body.rollout.state === 'done');
      expect((await members('AUTO_ALL')).map((row) => row.id)).not.toEqual(expect.arrayContaining([11]));
      expect((await members('AUTO_ALL')).map((row) => row.id)).toEqual(expect.arrayContaining([10, 13]));
    });

    it('refuses a user both added and removed, bad ids, unknown segments, and too many ids, changing nothing', async () => {
      const both = await t
        .http()
        .post('/segments/CAMPAIGN/members')
        .send({ add: [20, 21], remove: [22, 21] });
      expectProblem(both, 400, '/problems/validation-error');
      expect(both.body.errors).toEqual([{ field: 'remove[1]', message: 'user 21 is also in add' }]);
      expectProblem(
        await t
          .http()
          .post('/segments/CAMPAIGN/members')
          .send({ add: [20, 0] }),
        400,
        '/problems/validation-error',
      );
      expectProblem(
        await t
          .http()
          .post('/segments/NOPE/members')
          .send({ add: [20] }),
        404,
        '/problems/not-found',
      );
      const tooMany = await t
        .http()
        .post('/segments/CAMPAIGN/members')
        .send({ add: Array.from({ length: 60_000 }, (_, i) => i + 1), remove: Array.from({ length: 40_001 }, (_, i) => 100_000 + i) });
      expectProblem(tooMany, 400, '/problems/validation-error');
      expect(await make().count('SELECT count(*) FROM users WHERE id IN (20, 21, 22)')).toBe(0);
    });

    it('names every bad id (SPEC §2 rule 4), the first 100 of them when there are more, with their count', async () => {
      const ids: unknown[] = Array.from({ length: 1000 }, (_, i) => 700_001 + i);
      for (const [index, bad] of [
        [10, 0],
        [200, -5],
        [500, 1.5],
        [700, '42'],
        [999, null],
      ] as const)
        ids[index] = bad;
      const res = await t.http().post('/segments/CAMPAIGN/members').send({ add: ids });
      expectProblem(res, 400, '/problems/validation-error');
      const message = 'must be an integer from 1 to 9007199254740991';
      expect(res.body.errors).toEqual([10, 200, 500, 700, 999].map((index) => ({ field: `add[${index}]`, message })));
      expect(res.body.detail).toMatch(/^5 invalid fields: add\[10\], add\[200\], add\[500\], add\[700\], add\[999\]$/);

      const many = await t
        .http()
        .post('/segments/CAMPAIGN/members')
        .send({ add: Array.from({ length: 150 }, () => 0), remove: [1, -1] });
      expectProblem(many, 400, '/problems/validation-error');
      expect(many.body.errors).toHaveLength(100);
      expect(many.body.errors[99]).toEqual({ field: 'add[99]', message });
      expect(many.body.detail).toMatch(/^151 invalid fields \(the first 100 listed\): add\[0\], /);

      const lookup = await t
        .http()
        .post('/users/segments/lookup')
        .send({ user_ids: [1, 'x', 3, 0] });
      expect(lookup.body.errors.map((error: { field: string }) => error.field)).toEqual(['user_ids[1]', 'user_ids[3]']);
      expect(await make().count('SELECT count(*) FROM users WHERE id > 700000 AND id <= 701000')).toBe(0);
    });

    // On the local Citus cluster (three servers on two cores) the two largest requests take minutes: the limit is
    // exercised on one PostgreSQL, and the cluster runs the same path in this suite's smaller requests.
    it.skipIf(inject('citusNodes').length > 0)(
      'takes the largest request: 100 000 ids, half of them expired members coming back, half removals',
      async () => {
        await t.http().post('/segments').send({ slug: 'CAMPAIGN_MAX' }).expect(201);
        const returning = Array.from({ length: 50_000 }, (_, i) => 500_001 + i);
        const leaving = Array.from({ length: 50_000 }, (_, i) => 600_001 + i);
        await t
          .http()
          .post('/segments/CAMPAIGN_MAX/members')
          .send({ add: [...returning, ...leaving] })
          .expect(200);
        await t.db.query(
          `UPDATE memberships SET expires_at = now() - interval '1 second'
         WHERE segment_id = (SELECT id FROM segments WHERE slug = 'CAMPAIGN_MAX') AND user_id <= 550000`,
        );
        const res = await t.http().post('/segments/CAMPAIGN_MAX/members').send({ add: returning, remove: leaving }).expect(200);
        // The expired memberships are removed (ttl, at their instant) and added again; the others removed.
        expect(res.body).toEqual({ added: 50_000, removed: 50_000 });
        const kinds = await t.db.query(
          `SELECT operation, reason, count(*)::int AS n FROM membership_history WHERE segment_slug = 'CAMPAIGN_MAX'
         GROUP BY operation, reason ORDER BY operation, reason`,
        );
        expect(kinds.rows).toEqual([
          { operation: 'add', reason: 'manual', n: 150_000 },
          { operation: 'remove', reason: 'manual', n: 50_000 },
          { operation: 'remove', reason: 'ttl', n: 50_000 },
        ]);
      },
      60_000,
    );
  });

  describe('POST /users/segments/lookup', () => {
    it('answers every user in the order asked, unknown users with no segments', async () => {
      const res = await t
        .http()
        .post('/users/segments/lookup')
        .send({ user_ids: [13, 999_999, 10, 13] })
        .expect(200);
      expect(res.body.items.map((item: { user_id: number }) => item.user_id)).toEqual([13, 999_999, 10, 13]);
      expect(res.body.items[1]).toEqual({ user_id: 999_999, segments: [] });
      expect(res.body.items[2].segments.map((segment: { slug: string }) => segment.slug)).toEqual(['AUTO_ALL', 'CAMPAIGN']);
      expect(res.body.items[0]).toEqual(res.body.items[3]);
      expectProblem(
        await t
          .http()
          .post('/users/segments/lookup')
          .send({ user_ids: Array.from({ length: 1001 }, (_, i) => i + 1) }),
        400,
        '/problems/validation-error',
      );
      expectProblem(await t.http().post('/users/segments/lookup').send({ user_ids: [] }), 400, '/problems/validation-error');
    });
  });

  describe('CSV imports', () => {
    it('adds a file of ids (header, CRLF, repeats) in chunks with history, every add with the same expiry', async () => {
      const csv = 'user_id\r\n' + Array.from({ length: 30 }, (_, i) => String(100 + i)).join('\r\n') + '\r\n100\r\n';
      const res = await importFile('LIST', 'add', csv, { ttl_seconds: '3600' });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ segment: 'LIST', mode: 'add', state: 'running', lines: 32, total: 30, bad_lines: null });
      const done = await finished(res.body.id);
      expect(done).toMatchObject({ state: 'done', processed: 30, added: 30, removed: 0, error: null });
      expect((await members('LIST')).map((row) => row.id)).toEqual(Array.from({ length: 30 }, (_, i) => 100 + i));
      const { rows } = await t.db.query(
        `SELECT count(DISTINCT expires_at)::int AS n FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = 'LIST'`,
      );
      expect(rows[0].n).toBe(1);
      expect(await make().count(`SELECT count(*) FROM membership_history WHERE segment_slug = 'LIST' AND actor = 'bootstrap'`)).toBe(30);
      expect(await make().count('SELECT count(*) FROM import_rows')).toBe(0);
    });

    it('replaces the manual members with exactly the file, leaving automatic members alone', async () => {
      await t
        .http()
        .post('/segments/LIST/members')
        .send({ add: [5, 6] })
        .expect(200);
      const res = await importFile('LIST', 'replace', '100\n101\n500\n');
      const done = await finished(res.body.id);
      expect(done).toMatchObject({ state: 'done', total: 3, added: 1 });
      expect((await members('LIST')).map((row) => row.id)).toEqual([100, 101, 500]);
      const auto = (await members('AUTO_ALL')).map((row) => row.id);
      const replaceAuto = await importFile('AUTO_ALL', 'replace', '10\n');
      await finished(replaceAuto.body.id);
      expect((await members('AUTO_ALL')).map((row) => row.id)).toEqual(auto);
    });

    it('removes a file of ids', async () => {
      const done = await finished((await importFile('LIST', 'remove', '100\n101\n777\n')).body.id);
      expect(done).toMatchObject({ state: 'done', processed: 3, added: 0, removed: 2 });
      expect((await members('LIST')).map((row) => row.id)).toEqual([500]);
    });

    it('changes nothing for a file with a bad line, and reports the first bad lines with their numbers', async () => {
      const res = await importFile('OTHER', 'add', 'user_id\n1\n2\nabc\n\n9007199254740992\n 7\n3\n');
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ state: 'failed', lines: 8, total: 0 });
      expect(res.body.bad_lines.map((bad: { line: number }) => bad.line)).toEqual([4, 5, 6, 7]);
      expect((await t.http().get(`/imports/${res.body.id}`).expect(200)).body.bad_lines).toEqual(res.body.bad_lines);
      expect(await members('OTHER')).toEqual([]);
      expect(await make().count('SELECT count(*) FROM users WHERE id IN (1, 2, 3)')).toBe(0);
      expect(await make().count('SELECT count(*) FROM import_rows')).toBe(0);
    });

    it('treats an empty file as a no-op import', async () => {
      const res = await importFile('OTHER', 'replace', '');
      expect(res.body).toMatchObject({ state: 'done', lines: 0, total: 0 });
    });

    it('refuses other media types, files over IMPORT_BODY_LIMIT_BYTES, and CSV bodies on other routes', async () => {
      expectProblem(
        await t
          .http()
          .post('/segments/OTHER/imports')
          .query({ mode: 'add' })
          .send({ user_ids: [1] }),
        415,
        'about:blank',
      );
      expectProblem(await importFile('OTHER', 'add', `${'1\n'.repeat(40_000)}`), 413, 'about:blank');
      expectProblem(await t.http().post('/segments').set('content-type', 'text/csv').send('slug\nX\n'), 415, 'about:blank');
      expectProblem(await importFile('OTHER', 'merge', '1\n'), 400, '/problems/validation-error');
      expectProblem(await importFile('NOPE', 'add', '1\n'), 404, '/problems/not-found');
      expect(await members('OTHER')).toEqual([]);
    });

    it('fails an import whose segment is deleted before it is applied, never touching a segment that took the slug', async () => {
      await t.http().post('/segments').send({ slug: 'GONE' }).expect(201);
      const res = await importFile('GONE', 'add', Array.from({ length: 50 }, (_, i) => String(i + 1)).join('\n'));
      await t.http().delete('/segments/GONE').expect(204);
      await t.http().post('/segments').send({ slug: 'GONE' }).expect(201);
      const done = await finished(res.body.id);
      expect(['done', 'failed']).toContain(done.state);
      expect(await members('GONE')).toEqual([]);
    });

    it('needs an admin token, and a 404 for an unknown import', async () => {
      const started = await importFile('OTHER', 'add', '1\n');
      const writer = (
        await t
          .http()
          .post('/tokens')
          .send({ name: 'import-writer', scopes: ['write'] })
          .expect(201)
      ).body.token as string;
      const asWriter = (request: ReturnType<ReturnType<TestApp['http']>['get']>) => request.set('authorization', `Bearer ${writer}`);
      expectProblem(await asWriter(t.http().get(`/imports/${started.body.id}`)), 403, '/problems/forbidden');
      expectProblem(
        await asWriter(t.http().post('/segments/OTHER/imports').query({ mode: 'add' }).set('content-type', 'text/csv').send('2\n')),
        403,
        '/problems/forbidden',
      );
      expectProblem(await t.http().get(`/imports/${started.body.id}`).unset('authorization'), 401, '/problems/unauthenticated');
      expectProblem(await t.http().get('/imports/00000000-0000-4000-8000-000000000000'), 404, '/problems/not-found');
      expectProblem(await t.http().get('/imports/not-a-uuid'), 400, '/problems/validation-error');
    });
  });
});
