import { MembershipRegistrationService, MembershipsModule, MembershipWritesService } from '#libs/memberships';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'batching-suite' };

/** Batched membership writes: grouping, per-user order, isolation of a failing write. */
describe('batched membership writes (service level)', () => {
  let s: ServiceSuite;
  let memberships: MembershipWritesService;
  let registration: MembershipRegistrationService;

  beforeAll(async () => {
    s = await createServiceSuite([MembershipsModule], { WRITE_BATCH_CONCURRENCY: 1, WRITE_BATCH_MAX_SIZE: 64 });
    memberships = s.get(MembershipWritesService);
    registration = s.get(MembershipRegistrationService);
    for (const slug of ['A', 'B', 'C']) await s.make.segment(slug);
  });
  afterAll(async () => s?.close());

  const batchSizes = async () => {
    const metric = (await register.getMetricsAsJSON()).find((item) => item.name === 'membership_write_batch_size');
    const values = (metric?.values ?? []) as { metricName?: string; value: number }[];
    return {
      count: values.find((value) => value.metricName === 'membership_write_batch_size_count')?.value ?? 0,
      sum: values.find((value) => value.metricName === 'membership_write_batch_size_sum')?.value ?? 0,
    };
  };

  it('applies writes that arrive together in one transaction, each with its own answer', async () => {
    const before = await batchSizes();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        memberships.changeUserSegments(1000 + index, { add: [{ slug: index % 2 ? 'A' : 'B' }], remove: ['C'] }, CALLER),
      ),
    );
    results.forEach((result, index) => expect(result).toMatchObject({ userId: 1000 + index, added: [index % 2 ? 'A' : 'B'], removed: [] }));
    const after = await batchSizes();
    // The first write found the slot free and went alone; the other 39 went together.
    expect(after.count - before.count).toBe(2);
    expect(after.sum - before.sum).toBe(40);
    // The users were registered by two transactions (a transaction's now() stamps every row it inserts).
    const { rows } = await s.db.query(`SELECT count(DISTINCT created_at)::int AS transactions FROM users WHERE id BETWEEN 1000 AND 1039`);
    expect(rows[0].transactions).toBe(2);
  });

  it('keeps the arrival order of one user’s writes, never two of them in one batch', async () => {
    const userId = 2000;
    const steps = [
      { add: [{ slug: 'A' }], remove: [] },
      { add: [], remove: ['A'] },
      { add: [{ slug: 'A' }], remove: [] },
      { add: [], remove: ['A'] },
    ];
    const results = await Promise.all(steps.map((step) => memberships.changeUserSegments(userId, step, CALLER)));
    expect(results.map((result) => [result.added, result.removed])).toEqual([
      [['A'], []],
      [[], ['A']],
      [['A'], []],
      [[], ['A']],
    ]);
    expect((await s.make.history(userId)).map((row) => row.operation)).toEqual(['add', 'remove', 'add', 'remove']);
  });

  it('answers the others correctly when one write of a batch fails in the database, and the failed batch writes no history', async () => {
    // The first write takes the only slot, so the next three form one batch. User id 0 breaks the
    // users_id_range CHECK inside that batch's transaction (the API never lets it through).
    const [, ...outcomes] = await Promise.allSettled([
      memberships.changeUserSegments(3000, { add: [{ slug: 'A' }], remove: [] }, CALLER),
      memberships.changeUserSegments(3001, { add: [{ slug: 'A' }], remove: [] }, CALLER),
      memberships.changeUserSegments(0, { add: [{ slug: 'A' }], remove: [] }, CALLER),
      memberships.changeUserSegments(3002, { add: [{ slug: 'B' }], remove: [] }, CALLER),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[0] as PromiseFulfilledResult<{ added: string[] }>).value.added).toEqual(['A']);
    expect((outcomes[2] as PromiseFulfilledResult<{ added: string[] }>).value.added).toEqual(['B']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/users_id_range/);
    for (const userId of [3001, 3002]) expect(await s.make.history(userId)).toHaveLength(1);
    expect(await s.make.count('SELECT count(*) FROM membership_history WHERE user_id = 0')).toBe(0);
  });

  it('isolates a write that names unknown segments inside a batch: it changes nothing, the others apply', async () => {
    // 3999 takes the only slot; the next three form one batch.
    const outcomes = await Promise.allSettled([
      memberships.changeUserSegments(3999, { add: [{ slug: 'A' }], remove: [] }, CALLER),
      memberships.changeUserSegments(4000, { add: [{ slug: 'A' }], remove: [] }, CALLER),
      memberships.changeUserSegments(4001, { add: [{ slug: 'NOPE' }], remove: [] }, CALLER),
      memberships.changeUserSegments(4002, { add: [{ slug: 'B' }], remove: [] }, CALLER),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await s.make.count('SELECT count(*) FROM users WHERE id = 4001')).toBe(0);
    expect(await s.make.count('SELECT count(*) FROM memberships WHERE user_id IN (4000, 4002)')).toBe(2);
  });

  it('registers through the same path: new ids, known ids, allocated ids', async () => {
    const [created, known, allocated] = await Promise.all([
      registration.registerUser(5000),
      registration.registerUser(3000),
      registration.registerNewUser(),
    ]);
    expect([created, known]).toEqual([true, false]);
    expect(await s.make.count('SELECT count(*) FROM users WHERE id = $1', [allocated])).toBe(1);
  });
});
