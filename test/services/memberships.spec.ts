import { setTimeout as sleep } from 'node:timers/promises';
import { RepeatedSlugsError, UnknownSegmentsError } from '#libs/common';
import {
  MembershipExpiryService,
  MembershipRegistrationService,
  MembershipsModule,
  MembershipWritesService,
  SegmentPurgeService,
} from '#libs/memberships';
import { segmentBucket } from '#libs/segments';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'test-suite' };

/** The membership write path and its sibling bulk paths, without HTTP. */
describe('memberships (service level)', () => {
  let s: ServiceSuite;
  let memberships: MembershipWritesService;
  let registration: MembershipRegistrationService;
  let voice: number;

  beforeAll(async () => {
    s = await createServiceSuite([MembershipsModule], { JOB_BATCH_SIZE: 3 });
    memberships = s.get(MembershipWritesService);
    registration = s.get(MembershipRegistrationService);
    voice = await s.make.segment('VOICE');
    await s.make.segment('DISCOUNT');
  });
  afterAll(async () => s?.close());

  it('applies a change and answers with what really changed', async () => {
    const first = await memberships.changeUserSegments(
      1,
      { add: [{ slug: 'VOICE' }, { slug: 'DISCOUNT', ttlSeconds: 60 }], remove: [] },
      CALLER,
    );
    expect(first).toMatchObject({ userId: 1, added: ['DISCOUNT', 'VOICE'], removed: [] });
    const second = await memberships.changeUserSegments(1, { add: [{ slug: 'VOICE' }], remove: ['DISCOUNT'] }, CALLER);
    expect(second).toMatchObject({ added: [], removed: ['DISCOUNT'], segments: [{ slug: 'VOICE', expiresAt: null, source: 'manual' }] });
    expect((await s.make.history(1)).map((row) => `${row.operation} ${row.segment_slug}`)).toEqual([
      'add VOICE',
      'add DISCOUNT',
      'remove DISCOUNT',
    ]);
  });

  it('applies the default ttl to adds without their own expiry', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const result = await memberships.changeUserSegments(
      2,
      {
        add: [{ slug: 'VOICE' }, { slug: 'DISCOUNT', expiresAt: at }],
        remove: [],
        ttlSeconds: 600,
      },
      CALLER,
    );
    const bySlug = Object.fromEntries(result.segments.map((segment) => [segment.slug, segment.expiresAt?.getTime()]));
    expect(bySlug.DISCOUNT).toBe(at.getTime());
    expect(Math.abs(bySlug.VOICE! - Date.now() - 600_000)).toBeLessThan(5_000);
  });

  it('raises domain errors naming the bad items, and neither changes nor registers anything', async () => {
    await expect(
      memberships.changeUserSegments(3, { add: [{ slug: 'VOICE' }, { slug: 'NOPE' }], remove: ['GONE'] }, CALLER),
    ).rejects.toEqual(
      new UnknownSegmentsError([
        { list: 'add', index: 1, slug: 'NOPE' },
        { list: 'remove', index: 0, slug: 'GONE' },
      ]),
    );
    await expect(memberships.changeUserSegments(3, { add: [{ slug: 'VOICE' }], remove: ['VOICE'] }, CALLER)).rejects.toBeInstanceOf(
      RepeatedSlugsError,
    );
    expect(await s.make.count('SELECT count(*) FROM users WHERE id = 3')).toBe(0);
  });

  it('logs an expired membership that no sweep removed as its ttl removal, at its instant, before a re-add', async () => {
    const expiredAt = new Date(Date.now() - 1000);
    await s.make.membership(4, voice, { expiresAt: expiredAt });
    const result = await memberships.changeUserSegments(4, { add: [{ slug: 'VOICE' }], remove: [] }, CALLER);
    expect(result.added).toEqual(['VOICE']);
    const history = await s.make.history(4);
    expect(history.map((row) => `${row.operation} ${row.reason}`)).toEqual(['remove ttl', 'add manual']);
    expect(history[0]!.occurred_at).toEqual(expiredAt);
  });

  it('sweeps expired memberships in batches, with history at the expiry instant', async () => {
    const segment = await s.make.segment('SWEPT');
    const at = new Date(Date.now() - 5000);
    for (const userId of [10, 11, 12, 13, 14]) await s.make.membership(userId, segment, { expiresAt: at });
    await s.make.membership(15, segment, { expiresAt: new Date(Date.now() + 60_000) });
    expect(await s.get(MembershipExpiryService).sweep()).toBe(5);
    expect(await s.make.members(segment)).toEqual([15]);
    expect((await s.make.history(12)).map((row) => [row.reason, row.occurred_at.getTime()])).toEqual([['ttl', at.getTime()]]);
  });

  it('gives an automatic segment back the users it selects when their manual membership expires, unless they opted out', async () => {
    const segment = await s.make.segment('HALF_AUTO', { autoPercent: 50 });
    const users = Array.from({ length: 40 }, (_, index) => 200 + index);
    const selected = users.filter((userId) => segmentBucket(segment, userId) < 5000);
    const optedOut = selected[0]!;
    const at = new Date(Date.now() - 5000);
    for (const userId of users.filter((userId) => userId !== optedOut)) await s.make.membership(userId, segment, { expiresAt: at });
    await s.make.users([optedOut]);
    await s.db.query('INSERT INTO segment_opt_outs (user_id, segment_id) VALUES ($1, $2)', [optedOut, segment]);
    expect(selected.length, 'both kinds of user in the sample').toBeGreaterThan(1);
    expect(selected.length).toBeLessThan(users.length);

    expect(await s.get(MembershipExpiryService).sweep()).toBe(users.length - 1);
    expect(await s.make.members(segment, 'auto')).toEqual(selected.slice(1));
    expect(await s.make.members(segment, 'manual')).toEqual([]);
    expect((await s.make.history(selected[1]!)).map((row) => [row.operation, row.reason])).toEqual([
      ['remove', 'ttl'],
      ['add', 'auto'],
    ]);
    const unselected = users.find((userId) => !selected.includes(userId))!;
    expect((await s.make.history(unselected)).map((row) => [row.operation, row.reason])).toEqual([['remove', 'ttl']]);
  });

  it('finishes a purge only when no member is left, also when batches of it run concurrently', async () => {
    const segment = await s.make.segment('PURGED', { deleted: true });
    for (let userId = 20; userId < 30; userId++) await s.make.membership(userId, segment);
    const purge = s.get(SegmentPurgeService);
    expect(await Promise.all([purge.run(segment), purge.run(segment), purge.run(segment)])).toEqual([true, true, true]);
    expect(await s.make.members(segment)).toEqual([]);
    expect(await s.make.count('SELECT count(*) FROM segments WHERE id = $1 AND purged_at IS NOT NULL', [segment])).toBe(1);
    expect(
      await s.make.count(`SELECT count(*) FROM membership_history WHERE segment_id = $1 AND reason = 'segment_deleted'`, [segment]),
    ).toBe(10);
  });

  it('refreshes planner statistics of the tables a bulk change touched, without a manual ANALYZE', async () => {
    const analyzed = async (table: string) =>
      (await s.db.query('SELECT last_analyze, n_live_tup FROM pg_stat_user_tables WHERE relname = $1', [table])).rows[0];
    expect((await analyzed('users')).last_analyze).toBeNull();
    await s.make.segment('BULK_AUTO', { autoPercent: 50 });
    await registration.registerUsers(Array.from({ length: 5000 }, (_, index) => 100_000 + index));
    await eventually(
      async () => (await analyzed('users')).last_analyze && (await analyzed('memberships')).last_analyze,
      10_000,
      'statistics of users and memberships',
    );
    expect((await analyzed('users')).last_analyze).not.toBeNull();
    expect((await analyzed('memberships')).last_analyze).not.toBeNull();
    expect(await s.make.estimatedRows('users')).toBeGreaterThanOrEqual(5000);
  });

  it('gives a table a closing pass once its bulk changes stop, even below a tenth of it', async () => {
    const passes = async () =>
      Number((await s.db.query(`SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'users'`)).rows[0].vacuum_count);
    await registration.registerUsers(Array.from({ length: 30_000 }, (_, index) => 200_000 + index));
    // The pass the share triggered, and the closing one a second after it.
    const quiet = Date.now() + 10_000;
    let before = await passes();
    for (let last = -1; before !== last && Date.now() < quiet;) {
      last = before;
      await sleep(1_500);
      before = await passes();
    }
    // 1 500 users: a bulk change, but a twentieth of the table, so the share alone would wait.
    await registration.registerUsers(Array.from({ length: 1_500 }, (_, index) => 300_000 + index));
    await eventually(async () => (await passes()) !== before, 10_000, 'a closing pass on users');
    expect(await passes()).toBe(before + 1);
  });
});
