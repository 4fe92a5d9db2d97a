import { ChangeFeedRelay, ChangeFeedService, feedPositionOf, type FeedEntry, type FeedPosition } from '#libs/history';
import { MembershipsModule, MembershipWritesService } from '#libs/memberships';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'relay-suite' };

/**
 * The change feed's relay publishes committed history in the order it became visible, with no
 * lock a writer takes: a transaction that commits late is published late, exactly once, and
 * holds up nothing committed after it. Relay passes are run by hand here (no relay loop).
 */
describe('change-feed relay (service level)', () => {
  let s: ServiceSuite;
  let relay: ChangeFeedRelay;
  let feed: ChangeFeedService;
  let memberships: MembershipWritesService;

  beforeAll(async () => {
    s = await createServiceSuite([MembershipsModule], { FEED_RELAY_INTERVAL_MS: 0 });
    relay = s.get(ChangeFeedRelay);
    feed = s.get(ChangeFeedService);
    memberships = s.get(MembershipWritesService);
    await s.make.segment('A');
  });
  afterAll(async () => s?.close());

  /** Every published entry after `position`. */
  async function readAfter(position: FeedPosition): Promise<FeedEntry[]> {
    const entries: FeedEntry[] = [];
    for (let page = await feed.page(position, 2); page.length > 0; page = await feed.page(feedPositionOf(page.at(-1)!), 2)) {
      entries.push(...page);
    }
    return entries;
  }

  const tail = async () => {
    const all = await readAfter({ batch: 0, id: 0 });
    return all.length === 0 ? { batch: 0, id: 0 } : feedPositionOf(all.at(-1)!);
  };

  it('publishes a transaction that commits late after the ones that committed before it, exactly once', async () => {
    const start = await tail();
    const late = await s.db.connect();
    try {
      // An entry with a lower id than the next change's, whose transaction commits after it.
      await late.query('BEGIN');
      await late.query(`
        INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, actor, occurred_at)
        VALUES (1, 1, 'A', 'add', 'manual', 'late', clock_timestamp())`);
      await memberships.changeUserSegments(2, { add: [{ slug: 'A' }], remove: [] }, CALLER);

      expect(await relay.pass()).toBe(1);
      const first = await readAfter(start);
      expect(first.map((entry) => entry.userId)).toEqual([2]);

      await late.query('COMMIT');
      expect(await relay.pass()).toBe(1);
      const second = await readAfter(feedPositionOf(first[0]!));
      expect(second.map((entry) => [entry.userId, entry.actor])).toEqual([[1, 'late']]);
      // Its id is lower, its batch later: the feed is in publication order, not id order.
      expect(second[0]!.id).toBeLessThan(first[0]!.id);
      expect(second[0]!.batch).toBeGreaterThan(first[0]!.batch);
      expect((await readAfter(start)).map((entry) => entry.userId)).toEqual([2, 1]);
      expect(await relay.pass()).toBe(0);
    } finally {
      await late.query('ROLLBACK').catch(() => undefined);
      late.release();
    }
  });

  it('publishes a batch only once all of it is visible', async () => {
    const start = await tail();
    await memberships.changeUserSegments(3, { add: [{ slug: 'A' }], remove: [] }, CALLER);
    // As on a cluster where one node has not committed its part yet: the batch holds one entry
    // more than can be seen.
    await s.db.query(`
      WITH next AS (SELECT published_batch + 1 AS batch FROM change_feed_relay)
      UPDATE membership_history SET feed_batch = (SELECT batch FROM next) WHERE feed_batch IS NULL`);
    await s.db.query('UPDATE change_feed_relay SET stamped_batch = published_batch + 1, stamped_count = 2');

    expect(await relay.pass()).toBe(0);
    expect(await readAfter(start)).toEqual([]);

    await s.db.query('UPDATE change_feed_relay SET stamped_count = 1');
    await relay.pass();
    expect((await readAfter(start)).map((entry) => entry.userId)).toEqual([3]);
  });

  it('stamps every entry once when several relays run at the same time as writers', async () => {
    const start = await tail();
    const users = Array.from({ length: 200 }, (_, index) => 100 + index);
    let writing = true;
    const relays = Array.from({ length: 4 }, async () => {
      while (writing) await relay.pass();
    });
    await Promise.all(users.map((userId) => memberships.changeUserSegments(userId, { add: [{ slug: 'A' }], remove: [] }, CALLER)));
    writing = false;
    await Promise.all(relays);
    await relay.pass();
    const published = await readAfter(start);
    expect(published.map((entry) => entry.userId).sort((a, b) => a - b)).toEqual(users);
    expect(new Set(published.map((entry) => entry.id)).size).toBe(users.length);
  });
});
