import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

describe('users', () => {
  let t: TestApp;
  const register = (body: object) => t.http().post('/users').send(body);
  const userCount = async () => Number((await t.db.query('SELECT count(*) FROM users')).rows[0].count);

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('registers a user under its own id: 201 the first time, 200 after', async () => {
    expect((await register({ user_id: 1000 }).expect(201)).body).toEqual({ user_id: 1000 });
    expect((await register({ user_id: 1000 }).expect(200)).body).toEqual({ user_id: 1000 });
  });

  it('allocates new ids that no known user has, skipping ids callers chose', async () => {
    const before = await userCount();
    // Callers own the ids the allocator would produce next.
    await t
      .http()
      .post('/users/bulk')
      .send({ user_ids: [1, 2, 3, 4, 5, 6, 7] })
      .expect(200);
    const ids = new Set<number>();
    for (let index = 0; index < 5; index++) ids.add((await register({}).expect(201)).body.user_id);
    expect(ids.size).toBe(5);
    for (const id of ids) expect(id).toBeGreaterThan(7);
    expect(await userCount()).toBe(before + 7 + 5);
  });

  it('gives parallel allocations distinct ids', async () => {
    const results = await Promise.all(Array.from({ length: 30 }, () => register({})));
    expect(results.every((res) => res.status === 201)).toBe(true);
    expect(new Set(results.map((res) => res.body.user_id)).size).toBe(30);
  });

  it('registers a user exactly once under parallel requests', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => register({ user_id: 777 })));
    expect(results.filter((res) => res.status === 201)).toHaveLength(1);
    expect(results.filter((res) => res.status === 200)).toHaveLength(19);
  });

  it.each([
    [{ user_id: 0 }, 'user_id'],
    [{ user_id: -3 }, 'user_id'],
    [{ user_id: 1.5 }, 'user_id'],
    [{ user_id: '12' }, 'user_id'],
    [{ user_id: 9_007_199_254_740_992 }, 'user_id'],
    [{ user_id: null, name: 'x' }, 'name'],
  ])('rejects %j', async (body, field) => {
    const before = await userCount();
    const res = await register(body);
    expectProblem(res, 400, '/problems/validation-error');
    expect(res.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(await userCount()).toBe(before);
  });

  it('registers in bulk, counting new and existing ids once each', async () => {
    await register({ user_id: 50_000 }).expect(201);
    const res = await t
      .http()
      .post('/users/bulk')
      .send({ user_ids: [50_000, 50_001, 50_002, 50_002] })
      .expect(200);
    expect(res.body).toEqual({ created: 2, existing: 1 });
  });

  it('registers 100 000 ids in one request', async () => {
    const userIds = Array.from({ length: 100_000 }, (_, index) => 1_000_000 + index);
    const res = await t.http().post('/users/bulk').send({ user_ids: userIds }).expect(200);
    expect(res.body).toEqual({ created: 100_000, existing: 0 });
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM users WHERE id BETWEEN 1000000 AND 1099999');
    expect(rows[0].n).toBe(100_000);
  });

  it.each([
    ['an empty list', { user_ids: [] }],
    ['a missing list', {}],
    ['a non-integer', { user_ids: [1, 'two'] }],
    ['a zero id', { user_ids: [0] }],
    ['too many ids', { user_ids: Array.from({ length: 100_001 }, (_, index) => index + 1) }],
  ])('rejects a bulk registration with %s and registers nothing', async (_label, body) => {
    const before = await userCount();
    expectProblem(await t.http().post('/users/bulk').send(body), 400, '/problems/validation-error');
    expect(await userCount()).toBe(before);
  });
});
