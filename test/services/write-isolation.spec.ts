import { MembershipsModule, MembershipWritesService } from '#libs/memberships';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'isolation-suite' };
const CAMPAIGN_USERS = Array.from({ length: 2000 }, (_, index) => index + 1);

/** Settles to 'pending' while `promise` has not settled yet. */
const stateOf = (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      () => 'fulfilled' as const,
      () => 'rejected' as const,
    ),
    new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending'))),
  ]);

/**
 * SPEC §2 rule 8: a write waits only for writes of the same user. A campaign (a bulk change of
 * 2 000 users) is held open at a known point by a row another connection keeps locked; while
 * it holds its users, writes of other users, and the batch-mates of a write of one of its
 * users, complete.
 */
describe('writes never wait for strangers (service level)', () => {
  let s: ServiceSuite;
  let memberships: MembershipWritesService;
  let segmentId: number;

  beforeAll(async () => {
    // One batch at a time, so that writes submitted together share a batch.
    s = await createServiceSuite([MembershipsModule], { WRITE_BATCH_CONCURRENCY: 1, WRITE_BATCH_MAX_SIZE: 64 });
    memberships = s.get(MembershipWritesService);
    segmentId = await s.make.segment('CAMPAIGN');
    await s.make.segment('OTHER');
    await s.make.users([...CAMPAIGN_USERS, 5000]);
  });
  afterAll(async () => s?.close());

  /**
   * Starts a campaign adding CAMPAIGN to every campaign user, and holds it open after it has
   * locked them: user 1 500 was opted out of CAMPAIGN, and `holder` keeps that opt-out row
   * locked, which the campaign's add must delete. Resolves once the campaign waits there (the
   * campaign's promise is wrapped: awaiting it would wait for the campaign).
   */
  async function campaignHeldOpen(holder: pg.PoolClient): Promise<{ campaign: Promise<unknown> }> {
    await s.db.query('INSERT INTO segment_opt_outs (user_id, segment_id) VALUES (1500, $1) ON CONFLICT DO NOTHING', [segmentId]);
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM segment_opt_outs WHERE user_id = 1500 AND segment_id = $1 FOR UPDATE', [segmentId]);
    const campaign = memberships.changeSegmentMembers('CAMPAIGN', { add: CAMPAIGN_USERS, remove: [] }, CALLER);
    campaign.catch(() => undefined);
    await eventually(
      async () => (await s.make.lockWaits('%segment_opt_outs%')) === 1,
      10_000,
      'the campaign to wait for the locked opt-out, holding its users',
    );
    return { campaign };
  }

  it('completes writes of other users, and a held user’s batch-mates, while a campaign holds its users', async () => {
    const holder = await s.db.connect();
    try {
      const { campaign } = await campaignHeldOpen(holder);
      // Outside the campaign: completes although the campaign is still open.
      await expect(memberships.changeUserSegments(5000, { add: [{ slug: 'OTHER' }], remove: [] }, CALLER)).resolves.toMatchObject({
        added: ['OTHER'],
      });
      // A batch of a campaign user and strangers: the first write takes the only slot, the next four form one batch.
      const writes = [5004, 10, 5001, 5002, 5003].map((userId) =>
        memberships.changeUserSegments(userId, { add: [{ slug: 'OTHER' }], remove: [] }, CALLER),
      );
      const held = writes.splice(1, 1)[0]!;
      await expect(Promise.all(writes)).resolves.toHaveLength(4);
      expect(await stateOf(held), 'the campaign user’s write waits for the campaign').toBe('pending');
      expect(await stateOf(campaign)).toBe('pending');
      await holder.query('COMMIT');

      await expect(campaign).resolves.toEqual({ added: CAMPAIGN_USERS.length, removed: 0 });
      await expect(held).resolves.toMatchObject({ added: ['OTHER'] });
      // User 10's history has the campaign's add, then its own: the order they committed in.
      expect((await s.make.history(10)).map((row) => `${row.operation} ${row.segment_slug}`)).toEqual(['add CAMPAIGN', 'add OTHER']);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });

  it('registers new users of a batch while another transaction registers one of them, which waits alone', async () => {
    const holder = await s.db.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('INSERT INTO users (id) VALUES (7000)');
      const writes = [6998, 6999, 7000, 7001, 7002].map((userId) =>
        memberships.changeUserSegments(userId, { add: [{ slug: 'OTHER' }], remove: [] }, CALLER),
      );
      const held = writes.splice(2, 1)[0]!;
      await expect(Promise.all(writes)).resolves.toHaveLength(4);
      expect(await stateOf(held)).toBe('pending');
      await holder.query('COMMIT');
      await expect(held).resolves.toMatchObject({ userId: 7000, added: ['OTHER'] });
      expect(await s.make.count('SELECT count(*) FROM users WHERE id BETWEEN 6998 AND 7002')).toBe(5);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });
});
