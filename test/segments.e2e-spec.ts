import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

describe('segments', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('creates a segment and reads it back with its member count', async () => {
    const created = await t
      .http()
      .post('/segments')
      .send({ slug: 'AVITO_VOICE_MESSAGES', description: 'Voice messages', auto_percent: null });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      slug: 'AVITO_VOICE_MESSAGES',
      description: 'Voice messages',
      auto_percent: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.any(String),
    });

    await t
      .http()
      .patch('/users/1/segments')
      .send({ add: ['AVITO_VOICE_MESSAGES'] })
      .expect(200);
    const read = await t.http().get('/segments/AVITO_VOICE_MESSAGES').expect(200);
    expect(read.body).toMatchObject({ slug: 'AVITO_VOICE_MESSAGES', description: 'Voice messages', member_count: 1 });
  });

  it('stores auto_percent with two decimals', async () => {
    const res = await t.http().post('/segments').send({ slug: 'AUTO_12', auto_percent: 12.34 }).expect(201);
    expect(res.body.auto_percent).toBe(12.34);
  });

  it('rejects a slug that an active segment has with 409 and keeps the first segment', async () => {
    await t.http().post('/segments').send({ slug: 'DUP', description: 'first' }).expect(201);
    const res = await t.http().post('/segments').send({ slug: 'DUP', description: 'second' });
    expectProblem(res, 409, '/problems/conflict');
    expect((await t.http().get('/segments/DUP')).body.description).toBe('first');
  });

  it('treats slugs as case-sensitive', async () => {
    await t.http().post('/segments').send({ slug: 'case_x' }).expect(201);
    await t.http().post('/segments').send({ slug: 'CASE_X' }).expect(201);
    await t.http().get('/segments/Case_X').expect(404);
  });

  it.each([
    [{}, 'slug'],
    [{ slug: '' }, 'slug'],
    [{ slug: 'has space' }, 'slug'],
    [{ slug: 'ü' }, 'slug'],
    [{ slug: 'A'.repeat(129) }, 'slug'],
    [{ slug: 42 }, 'slug'],
    [{ slug: 'OK', auto_percent: 100.5 }, 'auto_percent'],
    [{ slug: 'OK', auto_percent: -1 }, 'auto_percent'],
    [{ slug: 'OK', auto_percent: 1.234 }, 'auto_percent'],
    [{ slug: 'OK', auto_percent: '10' }, 'auto_percent'],
    [{ slug: 'OK', description: 'x'.repeat(1001) }, 'description'],
    [{ slug: 'OK', colour: 'red' }, 'colour'],
  ])('rejects %j naming %s', async (body, field) => {
    const res = await t.http().post('/segments').send(body);
    expectProblem(res, 400, '/problems/validation-error');
    expect(res.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    await t.http().get('/segments/OK').expect(404);
  });

  it('accepts every allowed slug character and the maximum length', async () => {
    await t.http().post('/segments').send({ slug: 'a-Z_0.9' }).expect(201);
    await t
      .http()
      .post('/segments')
      .send({ slug: 'L'.repeat(128) })
      .expect(201);
    await t.http().get('/segments/a-Z_0.9').expect(200);
  });

  it('answers 404 for an unknown segment and 400 for a malformed slug', async () => {
    expectProblem(await t.http().get('/segments/NOPE'), 404, '/problems/not-found');
    expectProblem(await t.http().get('/segments/bad%20slug'), 400, '/problems/validation-error');
    expectProblem(await t.http().patch('/segments/NOPE').send({ description: 'x' }), 404, '/problems/not-found');
    expectProblem(await t.http().delete('/segments/NOPE'), 404, '/problems/not-found');
    expectProblem(await t.http().get('/segments/NOPE/users'), 404, '/problems/not-found');
  });

  it('changes description and auto_percent, and rejects unknown fields and the slug', async () => {
    await t.http().post('/segments').send({ slug: 'PATCHED', description: 'old' }).expect(201);
    const res = await t.http().patch('/segments/PATCHED').send({ description: 'new', auto_percent: 5 }).expect(200);
    expect(res.body).toMatchObject({ slug: 'PATCHED', description: 'new', auto_percent: 5 });
    const cleared = await t.http().patch('/segments/PATCHED').send({ description: null }).expect(200);
    expect(cleared.body).toMatchObject({ description: null, auto_percent: 5 });
    expectProblem(await t.http().patch('/segments/PATCHED').send({ slug: 'RENAMED' }), 400, '/problems/validation-error');
  });

  it('deletes a segment: gone from every read at once, slug reusable as a new segment', async () => {
    await t.http().post('/segments').send({ slug: 'GONE', description: 'old' }).expect(201);
    await t
      .http()
      .patch('/users/77/segments')
      .send({ add: ['GONE'] })
      .expect(200);

    await t.http().delete('/segments/GONE').expect(204);
    await t.http().get('/segments/GONE').expect(404);
    expect((await t.http().get('/users/77/segments')).body.segments).toEqual([]);
    const listed = await t.http().get('/segments?limit=1000');
    expect(listed.body.items.map((segment: { slug: string }) => segment.slug)).not.toContain('GONE');
    expectProblem(
      await t
        .http()
        .patch('/users/77/segments')
        .send({ add: ['GONE'] }),
      422,
      '/problems/unknown-segments',
    );

    const again = await t.http().post('/segments').send({ slug: 'GONE', description: 'new' }).expect(201);
    expect(again.body.description).toBe('new');
    const fresh = await t.http().get('/segments/GONE').expect(200);
    expect(fresh.body.member_count).toBe(0);
    expect((await t.http().get('/users/77/segments')).body.segments).toEqual([]);
    await t.http().delete('/segments/GONE').expect(204);
    await t.http().delete('/segments/GONE').expect(404);
  });

  it('paginates the catalogue by slug with an opaque cursor', async () => {
    const slugs = Array.from({ length: 7 }, (_, index) => `PAGE_${index}`);
    for (const slug of slugs) await t.http().post('/segments').send({ slug }).expect(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await t
        .http()
        .get('/segments')
        .query(cursor ? { limit: 2, cursor } : { limit: 2 })
        .expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((segment: { slug: string }) => segment.slug));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen.filter((slug) => slug.startsWith('PAGE_'))).toEqual(slugs);
    // Pages follow one another in slug order (bytewise, as COLLATE "C" and JavaScript's default sort order ASCII).
    expect(seen).toEqual([...seen].sort());
  });

  it.each(['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'cursor=%21%21', 'cursor=WzFd', 'page=2'])(
    'rejects the query %s',
    async (query) => {
      expectProblem(await t.http().get(`/segments?${query}`), 400, '/problems/validation-error');
    },
  );

  it('lists members by user id, without expired memberships', async () => {
    await t.http().post('/segments').send({ slug: 'MEMBERS' }).expect(201);
    for (const userId of [30, 10, 20, 40])
      await t
        .http()
        .patch(`/users/${userId}/segments`)
        .send({ add: ['MEMBERS'] })
        .expect(200);
    await t.db.query(`UPDATE memberships SET expires_at = now() - interval '1 second' WHERE user_id = 40`);

    const first = await t.http().get('/segments/MEMBERS/users?limit=2').expect(200);
    expect(first.body.items).toEqual([
      { user_id: 10, expires_at: null, source: 'manual' },
      { user_id: 20, expires_at: null, source: 'manual' },
    ]);
    const second = await t.http().get(`/segments/MEMBERS/users?limit=2&cursor=${first.body.next_cursor}`).expect(200);
    expect(second.body).toEqual({ items: [{ user_id: 30, expires_at: null, source: 'manual' }], next_cursor: null });
    expect((await t.http().get('/segments/MEMBERS')).body.member_count).toBe(3);
  });

  it('lets exactly one of many concurrent creations of a slug succeed', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.http().post('/segments').send({ slug: 'RACE' })));
    expect(results.filter((res) => res.status === 201)).toHaveLength(1);
    expect(results.filter((res) => res.status === 409)).toHaveLength(19);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM segments WHERE slug = 'RACE'`);
    expect(rows[0].n).toBe(1);
  });
});
