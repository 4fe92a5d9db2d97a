import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { factories } from './support/factories.js';
import { expectProblem } from './support/problems.js';

const slugsOf = (body: { segments: { slug: string }[] }) => body.segments.map((segment) => segment.slug);

describe('memberships', () => {
  let t: TestApp;
  const segment = (slug: string) => t.http().post('/segments').send({ slug }).expect(201);
  const patch = (userId: number, body: object) => t.http().patch(`/users/${userId}/segments`).send(body);
  const read = async (userId: number) => slugsOf((await t.http().get(`/users/${userId}/segments`).expect(200)).body);
  const count = async (sql: string, params: unknown[] = []) => Number((await t.db.query(sql, params)).rows[0].count);

  beforeAll(async () => {
    t = await createTestApp();
    for (const slug of ['AVITO_VOICE_MESSAGES', 'AVITO_PERFORMANCE_VAS', 'AVITO_DISCOUNT_30', 'AVITO_DISCOUNT_50']) await segment(slug);
  });
  afterAll(async () => t?.close());

  it('runs the task scenario: users 1000, 1002, 1004 read back exactly their segments', async () => {
    await patch(1000, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_PERFORMANCE_VAS', 'AVITO_DISCOUNT_30', 'AVITO_DISCOUNT_50'] }).expect(200);
    await patch(1002, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_50'] }).expect(200);
    await patch(1004, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_PERFORMANCE_VAS', 'AVITO_DISCOUNT_30'] }).expect(200);
    await patch(1000, { remove: ['AVITO_DISCOUNT_30'] }).expect(200);
    await patch(1004, { add: ['AVITO_DISCOUNT_50'], remove: ['AVITO_VOICE_MESSAGES'] }).expect(200);

    expect(await read(1000)).toEqual(['AVITO_DISCOUNT_50', 'AVITO_PERFORMANCE_VAS', 'AVITO_VOICE_MESSAGES']);
    expect(await read(1002)).toEqual(['AVITO_DISCOUNT_50', 'AVITO_VOICE_MESSAGES']);
    expect(await read(1004)).toEqual(['AVITO_DISCOUNT_30', 'AVITO_DISCOUNT_50', 'AVITO_PERFORMANCE_VAS']);
    const full = await t.http().get('/users/1002/segments').expect(200);
    expect(full.body).toEqual({
      user_id: 1002,
      segments: [
        { slug: 'AVITO_DISCOUNT_50', expires_at: null, source: 'manual' },
        { slug: 'AVITO_VOICE_MESSAGES', expires_at: null, source: 'manual' },
      ],
    });
  });

  it('answers the PATCH with what really changed and the resulting segments', async () => {
    await patch(2000, { add: ['AVITO_VOICE_MESSAGES'] }).expect(200);
    const res = await patch(2000, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_30'], remove: ['AVITO_DISCOUNT_50'] }).expect(200);
    expect(res.body).toEqual({
      user_id: 2000,
      added: ['AVITO_DISCOUNT_30'],
      removed: [],
      segments: [
        { slug: 'AVITO_DISCOUNT_30', expires_at: null, source: 'manual' },
        { slug: 'AVITO_VOICE_MESSAGES', expires_at: null, source: 'manual' },
      ],
    });
    const removal = await patch(2000, { remove: ['AVITO_VOICE_MESSAGES'] }).expect(200);
    expect(removal.body).toMatchObject({ added: [], removed: ['AVITO_VOICE_MESSAGES'] });
  });

  it('registers a user never seen before under its own id', async () => {
    const userId = 9_007_199_254_740_991;
    const res = await patch(userId, { add: ['AVITO_DISCOUNT_30'] }).expect(200);
    expect(res.body.user_id).toBe(userId);
    const { rows } = await t.db.query('SELECT id::text FROM users WHERE id = $1', [String(userId)]);
    expect(rows).toEqual([{ id: '9007199254740991' }]);
    expect(await read(userId)).toEqual(['AVITO_DISCOUNT_30']);
  });

  it('answers an empty list for a user it never saw, without registering it', async () => {
    expect((await t.http().get('/users/31337/segments').expect(200)).body).toEqual({ user_id: 31337, segments: [] });
    expect(await count('SELECT count(*) FROM users WHERE id = 31337')).toBe(0);
  });

  it('keeps existing segments when adding more', async () => {
    await patch(3000, { add: ['AVITO_VOICE_MESSAGES'] }).expect(200);
    await patch(3000, { add: ['AVITO_DISCOUNT_30'] }).expect(200);
    await patch(3000, { add: ['AVITO_DISCOUNT_50'] }).expect(200);
    expect(await read(3000)).toEqual(['AVITO_DISCOUNT_30', 'AVITO_DISCOUNT_50', 'AVITO_VOICE_MESSAGES']);
  });

  it('applies nothing when any slug is unknown, naming every unknown slug', async () => {
    await patch(4000, { add: ['AVITO_VOICE_MESSAGES'] }).expect(200);
    const res = await patch(4000, { add: ['AVITO_DISCOUNT_30', 'NOPE_1'], remove: ['AVITO_VOICE_MESSAGES', 'NOPE_2'] });
    expectProblem(res, 422, '/problems/unknown-segments');
    expect(res.body.errors).toEqual([
      { field: 'add[1]', message: 'segment "NOPE_1" does not exist' },
      { field: 'remove[1]', message: 'segment "NOPE_2" does not exist' },
    ]);
    expect(await read(4000)).toEqual(['AVITO_VOICE_MESSAGES']);
  });

  it('does not register a new user when its request fails', async () => {
    expectProblem(await patch(4001, { add: ['NOPE'] }), 422, '/problems/unknown-segments');
    expect(await count('SELECT count(*) FROM users WHERE id = 4001')).toBe(0);
  });

  it('rejects a slug both added and removed, or listed twice, naming each', async () => {
    const both = await patch(4100, { add: ['AVITO_DISCOUNT_30'], remove: ['AVITO_DISCOUNT_30'] });
    expectProblem(both, 400, '/problems/validation-error');
    expect(both.body.errors).toEqual([{ field: 'remove[0]', message: 'segment "AVITO_DISCOUNT_30" is already listed at add[0]' }]);
    const twice = await patch(4100, { add: ['AVITO_DISCOUNT_30', { slug: 'AVITO_DISCOUNT_30', ttl_seconds: 5 }] });
    expectProblem(twice, 400, '/problems/validation-error');
    expect(twice.body.errors[0].field).toBe('add[1]');
    expect(await count('SELECT count(*) FROM users WHERE id = 4100')).toBe(0);
  });

  it('accepts an empty change and registers the user', async () => {
    const res = await patch(4200, {}).expect(200);
    expect(res.body).toEqual({ user_id: 4200, added: [], removed: [], segments: [] });
    expect(await count('SELECT count(*) FROM users WHERE id = 4200')).toBe(1);
  });

  it('treats removing a segment the user does not have as a no-op', async () => {
    const res = await patch(4300, { remove: ['AVITO_DISCOUNT_30'] }).expect(200);
    expect(res.body.removed).toEqual([]);
  });

  describe('expiry', () => {
    it('stores ttl_seconds, a top-level default and expires_at', async () => {
      const before = Date.now();
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const res = await patch(5000, {
        ttl_seconds: 600,
        add: ['AVITO_VOICE_MESSAGES', { slug: 'AVITO_DISCOUNT_30', ttl_seconds: 60 }, { slug: 'AVITO_DISCOUNT_50', expires_at: expiresAt }],
      }).expect(200);
      const bySlug = Object.fromEntries(
        res.body.segments.map((s: { slug: string; expires_at: string }) => [s.slug, Date.parse(s.expires_at)]),
      );
      expect(bySlug.AVITO_VOICE_MESSAGES - before).toBeGreaterThan(590_000);
      expect(bySlug.AVITO_VOICE_MESSAGES - before).toBeLessThan(610_000);
      expect(bySlug.AVITO_DISCOUNT_30 - before).toBeGreaterThan(50_000);
      expect(bySlug.AVITO_DISCOUNT_30 - before).toBeLessThan(70_000);
      expect(bySlug.AVITO_DISCOUNT_50).toBe(Date.parse(expiresAt));
    });

    it('never returns an expired membership, whether or not anything cleaned it up', async () => {
      await patch(5100, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_30'] }).expect(200);
      await t.db.query(
        `UPDATE memberships SET expires_at = now() - interval '1 millisecond' WHERE user_id = 5100 AND segment_id = (SELECT id FROM segments WHERE slug = 'AVITO_DISCOUNT_30')`,
      );
      expect(await read(5100)).toEqual(['AVITO_VOICE_MESSAGES']);
      expect((await t.http().get('/segment/user/5100').expect(200)).body).toEqual({ segments: [{ slug: 'AVITO_VOICE_MESSAGES' }] });
      const members = await t.http().get('/segments/AVITO_DISCOUNT_30/users?limit=1000').expect(200);
      expect(members.body.items.map((item: { user_id: number }) => item.user_id)).not.toContain(5100);
    });

    it('hides a membership once its ttl has passed', async () => {
      await patch(5200, { add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 2 }] }).expect(200);
      expect(await read(5200)).toEqual(['AVITO_VOICE_MESSAGES']);
      await factories(t.db).elapse(5200, 2.001);
      expect(await read(5200)).toEqual([]);
    });

    it('sets the expiry to what a re-add says, including making it permanent', async () => {
      await patch(5300, { add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 60 }] }).expect(200);
      const renewed = await patch(5300, { add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 3600 }] }).expect(200);
      expect(renewed.body.added).toEqual([]);
      expect(Date.parse(renewed.body.segments[0].expires_at) - Date.now()).toBeGreaterThan(3_500_000);
      const permanent = await patch(5300, { add: ['AVITO_VOICE_MESSAGES'] }).expect(200);
      expect(permanent.body).toMatchObject({ added: [], segments: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: null }] });
    });

    it('treats re-adding an expired membership as a new add and removing it as a no-op', async () => {
      await patch(5400, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_30'] }).expect(200);
      await t.db.query(`UPDATE memberships SET expires_at = now() - interval '1 second' WHERE user_id = 5400`);
      const res = await patch(5400, { add: ['AVITO_VOICE_MESSAGES'], remove: ['AVITO_DISCOUNT_30'] }).expect(200);
      expect(res.body).toMatchObject({ added: ['AVITO_VOICE_MESSAGES'], removed: [] });
      expect(await read(5400)).toEqual(['AVITO_VOICE_MESSAGES']);
    });

    it.each(
      (
        [
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 0 }] }, 'add[0].ttl_seconds'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 1.5 }] }, 'add[0].ttl_seconds'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 315_576_001 }] }, 'add[0].ttl_seconds'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: '2020-01-01T00:00:00Z' }] }, 'add[0].expires_at'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: '2999-01-01T00:00:00Z' }] }, 'add[0].expires_at'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: '2030-01-01T00:00:00' }] }, 'add[0].expires_at'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: 'tomorrow' }] }, 'add[0].expires_at'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', ttl_seconds: 60, expires_at: '2030-01-01T00:00:00Z' }] }, 'add[0].expires_at'],
          [{ ttl_seconds: -5, add: ['AVITO_VOICE_MESSAGES'] }, 'ttl_seconds'],
          [{ add: [{ ttl_seconds: 5 }] }, 'add[0].slug'],
          [{ add: [{ slug: 'AVITO_VOICE_MESSAGES', colour: 'red' }] }, 'add[0].colour'],
          [{ add: [7] }, 'add[0]'],
          [{ add: 'AVITO_VOICE_MESSAGES' }, 'add'],
          [{ remove: ['OK', 'bad slug'] }, 'remove[1]'],
          [{ remove: 'AVITO_VOICE_MESSAGES' }, 'remove'],
          [{ add: Array.from({ length: 1001 }, (_, index) => `S${index}`) }, 'add'],
          [{ remove: Array.from({ length: 1001 }, (_, index) => `S${index}`) }, 'remove'],
          [{ segments: ['AVITO_VOICE_MESSAGES'] }, 'segments'],
        ] as [object, string][]
      ).map(([body, field]) => ({ body, field, label: JSON.stringify(body).slice(0, 90) })),
    )('rejects $label naming $field and changes nothing', async ({ body, field }) => {
      const res = await patch(5500, body);
      expectProblem(res, 400, '/problems/validation-error');
      expect(res.body.errors.map((error: { field: string }) => error.field)).toContain(field);
      expect(await count('SELECT count(*) FROM users WHERE id = 5500')).toBe(0);
    });

    it('names every bad field of one request', async () => {
      const res = await patch(5500, { add: [{ slug: 'bad slug' }, { slug: 'OK', ttl_seconds: 0 }], remove: ['also bad'], extra: 1 });
      expectProblem(res, 400, '/problems/validation-error');
      expect(res.body.errors.map((error: { field: string }) => error.field).sort()).toEqual([
        'add[0].slug',
        'add[1].ttl_seconds',
        'extra',
        'remove[0]',
      ]);
    });
  });

  it.each(['0', '-1', '1.5', 'abc', '9007199254740992', '00012', '1e3'])('rejects the user id %s', async (userId) => {
    expectProblem(await t.http().get(`/users/${userId}/segments`), 400, '/problems/validation-error');
    expectProblem(
      await t
        .http()
        .patch(`/users/${userId}/segments`)
        .send({ add: ['AVITO_VOICE_MESSAGES'] }),
      400,
      '/problems/validation-error',
    );
  });

  describe('concurrency', () => {
    it('turns 50 parallel identical adds into one membership', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => patch(6000, { add: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_30'] })),
      );
      expect(results.map((res) => res.status)).toEqual(Array(50).fill(200));
      expect(await count('SELECT count(*) FROM memberships WHERE user_id = 6000')).toBe(2);
      expect(await count('SELECT count(*) FROM users WHERE id = 6000')).toBe(1);
      const added = results.flatMap((res) => res.body.added);
      expect(added.sort()).toEqual(['AVITO_DISCOUNT_30', 'AVITO_VOICE_MESSAGES']);
    });

    it('loses no change when many requests add different segments to one user at once', async () => {
      const slugs = Array.from({ length: 30 }, (_, index) => `PARALLEL_${index}`);
      for (const slug of slugs) await segment(slug);
      const results = await Promise.all(slugs.map((slug) => patch(6100, { add: [slug] })));
      expect(results.every((res) => res.status === 200)).toBe(true);
      expect(await read(6100)).toEqual([...slugs].sort());
    });

    it('serialises interleaved adds and removes so that the reported changes replay to the final state', async () => {
      const ops = Array.from({ length: 40 }, (_, index) =>
        index % 2 === 0 ? { add: ['AVITO_DISCOUNT_50'] } : { remove: ['AVITO_DISCOUNT_50'] },
      );
      const results = await Promise.all(ops.map((op) => patch(6200, op)));
      expect(results.every((res) => res.status === 200)).toBe(true);
      const adds = results.filter((res) => res.body.added.length).length;
      const removes = results.filter((res) => res.body.removed.length).length;
      const member = (await read(6200)).includes('AVITO_DISCOUNT_50');
      expect(adds - removes).toBe(member ? 1 : 0);
    });

    it('keeps deletion and membership changes consistent when they race', async () => {
      await segment('RACE_DELETE');
      const changes = Array.from({ length: 20 }, (_, index) => patch(6300 + index, { add: ['RACE_DELETE', 'AVITO_VOICE_MESSAGES'] }));
      const deletion = t.http().delete('/segments/RACE_DELETE');
      const [deleted, ...results] = await Promise.all([deletion, ...changes]);
      expect(deleted.status).toBe(204);
      for (const res of results) expect([200, 422]).toContain(res.status);
      const { rows } = await t.db.query(
        `SELECT count(*)::int AS n FROM memberships m JOIN segments s ON s.id = m.segment_id
         WHERE s.slug = 'RACE_DELETE' AND m.created_at > s.deleted_at`,
      );
      expect(rows[0].n).toBe(0);
    });
  });
});
