import { MembershipRolloutService, MembershipsModule, MembershipWritesService } from '#libs/memberships';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/app.js';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'test-suite' };

// Fewer on a Citus cluster sharing two cores, whose rollout chunks take a second each.
const USERS = inject('citusNodes').length > 0 ? 1000 : 3000;
const ROUNDS = 3;

/** Runs `tasks` with at most `limit` of them in flight. */
async function inParallel(tasks: (() => Promise<unknown>)[], limit: number): Promise<void> {
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    }),
  );
}

/**
 * An explicit removal sticks even when it races a running rollout: the chunk's INSERT must
 * never add back a segment that a concurrent removal of the same user opted out of.
 */
describe('explicit removals racing a rollout (service level)', () => {
  let s: ServiceSuite;

  beforeAll(async () => {
    s = await createServiceSuite([MembershipsModule], { JOB_BATCH_SIZE: 50 });
    await s.make.users(USERS);
  });
  afterAll(async () => s?.close());

  it.each(Array.from({ length: ROUNDS }, (_, round) => round + 1))(
    'round %i: no removed user ends up an automatic member',
    async (round) => {
      const slug = `RACED_${round}`;
      const segmentId = await s.make.segment(slug, { autoPercent: 100, rollout: 'pending' });
      const removed = Array.from({ length: USERS / 2 }, (_, index) => 2 * index + 1);
      const memberships = s.get(MembershipWritesService);
      const rollout = s.get(MembershipRolloutService).run(segmentId, 1);
      await inParallel(
        removed.map((userId) => () => memberships.changeUserSegments(userId, { add: [], remove: [slug] }, CALLER)),
        16,
      );
      expect(await rollout).toBe('done');

      const violations = await s.make.count(
        `SELECT count(*) FROM segment_opt_outs o JOIN memberships m ON m.user_id = o.user_id AND m.segment_id = o.segment_id
       WHERE o.segment_id = $1`,
        [segmentId],
      );
      expect(violations, 'users opted out yet automatic members').toBe(0);
      expect(await s.make.members(segmentId)).toEqual(Array.from({ length: USERS / 2 }, (_, index) => 2 * index + 2));
      // Each removed user's history replays to "not a member".
      const lastOperations = await s.db.query(
        `SELECT DISTINCT ON (user_id) user_id, operation FROM membership_history WHERE segment_id = $1 ORDER BY user_id, occurred_at DESC, id DESC`,
        [segmentId],
      );
      const lastOf = new Map(lastOperations.rows.map((row) => [Number(row.user_id), row.operation]));
      expect(removed.filter((userId) => lastOf.get(userId) === 'add')).toEqual([]);
    },
  );
});

/**
 * The same races with their interleavings forced: the test holds a row that one side needs, so
 * the other side reaches its critical point first, and asserts that both sides did wait. On a
 * Citus cluster the waits happen on workers, out of this view: the cluster runs the random race.
 */
describe.skipIf(inject('citusNodes').length > 0)('explicit removals racing a rollout chunk, interleavings forced', () => {
  let s: ServiceSuite;
  const user = 7;

  beforeAll(async () => {
    s = await createServiceSuite([MembershipsModule], { JOB_BATCH_SIZE: 50 });
    await s.make.users(100);
  });
  afterAll(async () => s?.close());

  /** Resolves once a statement like `statement` waits for a lock. */
  const waitingIn = (statement: string) =>
    eventually(async () => (await s.make.lockWaits(statement)) > 0, 10_000, `a wait in ${statement}`);

  it('a removal committed while the chunk waits for its user is seen by the chunk', async () => {
    const segmentId = await s.make.segment('FORCED_OPT_OUT', { autoPercent: 100, rollout: 'pending' });
    // The removal locks its user, then waits on this uncommitted opt-out of the same pair.
    const holder = await s.db.connect();
    await holder.query('BEGIN');
    await holder.query('INSERT INTO segment_opt_outs (user_id, segment_id) VALUES ($1, $2)', [user, segmentId]);
    const removal = s.get(MembershipWritesService).changeUserSegments(user, { add: [], remove: ['FORCED_OPT_OUT'] }, CALLER);
    await waitingIn('%INSERT INTO segment_opt_outs%');
    // The chunk judges the user eligible (no opt-out it can see) and waits for the removal's lock.
    const rollout = s.get(MembershipRolloutService).run(segmentId, 1);
    await waitingIn('%FOR NO KEY UPDATE%');
    await holder.query('ROLLBACK');
    holder.release();
    await removal;
    expect(await rollout).toBe('done');

    expect(await s.make.members(segmentId), 'the removed user stays out').toEqual(
      Array.from({ length: 100 }, (_, index) => index + 1).filter((id) => id !== user),
    );
    const { rows } = await s.db.query('SELECT operation FROM membership_history WHERE user_id = $1 AND segment_id = $2', [user, segmentId]);
    expect(rows, 'no change of the removed user, who never was a member').toEqual([]);
  });

  it('a removal that meets a chunk holding its user removes what the chunk added', async () => {
    const segmentId = await s.make.segment('FORCED_AFTER', { autoPercent: 100, rollout: 'pending' });
    // The chunk locks its users, then its insert waits on this uncommitted membership of another user.
    const holder = await s.db.connect();
    await holder.query('BEGIN');
    await holder.query(`INSERT INTO memberships (user_id, segment_id, source) VALUES (40, $1, 'auto')`, [segmentId]);
    const rollout = s.get(MembershipRolloutService).run(segmentId, 1);
    await waitingIn(`%INSERT INTO memberships%'auto'%`);
    let removed = false;
    const removal = s
      .get(MembershipWritesService)
      .changeUserSegments(user, { add: [], remove: ['FORCED_AFTER'] }, CALLER)
      .then((result) => ((removed = true), result));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(removed, 'the removal waits for the chunk that holds its user').toBe(false);
    await holder.query('ROLLBACK');
    holder.release();
    await removal;
    expect(await rollout).toBe('done');

    expect(await s.make.members(segmentId)).not.toContain(user);
    const { rows } = await s.db.query(
      'SELECT operation, reason FROM membership_history WHERE user_id = $1 AND segment_id = $2 ORDER BY occurred_at, id',
      [user, segmentId],
    );
    expect(rows).toEqual([
      { operation: 'add', reason: 'auto' },
      { operation: 'remove', reason: 'manual' },
    ]);
  });
});
