import { MembershipRolloutService, MembershipsModule, MembershipWritesService } from '#libs/memberships';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'test-suite' };

const USERS = 3000;
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
