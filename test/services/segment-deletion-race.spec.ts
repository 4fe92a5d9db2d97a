import { MembershipsModule, MembershipWritesService, SegmentPurgeService } from '#libs/memberships';
import { SegmentsModule, SegmentsService } from '#libs/segments';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/app.js';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

const CALLER = { actor: 'deletion-race-suite' };
const USER = 11;

/**
 * A segment deleted while a membership change of it is in flight: the deletion waits for the
 * change (it holds the segment's lock shared), so no member is added after the deletion, and
 * the purge removes what the change added. The change is held at a known point by a row this
 * test keeps locked, so the interleaving is forced, not hoped for; both sides are seen waiting.
 * On a Citus cluster row waits happen on workers, out of this view: the fault suite races it there.
 */
describe.skipIf(inject('citusNodes').length > 0)('segment deletion racing a membership change (service level)', () => {
  let s: ServiceSuite;

  beforeAll(async () => {
    s = await createServiceSuite([SegmentsModule, MembershipsModule]);
    await s.make.users([USER]);
  });
  afterAll(async () => s?.close());

  /** Resolves once a statement like `statement` waits for a lock. */
  const waitingIn = (statement: string) =>
    eventually(async () => (await s.make.lockWaits(statement)) > 0, 10_000, `a wait in ${statement}`);

  it('waits for the change in flight; the purge removes what it added, logged after the add', async () => {
    const segmentId = await s.make.segment('DOOMED');
    // The add holds the segment (shared) and its user, then waits on this uncommitted membership of the same pair.
    const holder = await s.db.connect();
    await holder.query('BEGIN');
    await holder.query(`INSERT INTO memberships (user_id, segment_id, source) VALUES ($1, $2, 'manual')`, [USER, segmentId]);
    const add = s.get(MembershipWritesService).changeUserSegments(USER, { add: [{ slug: 'DOOMED' }], remove: [] }, CALLER);
    await waitingIn('%INSERT INTO memberships%');
    const deletion = s.get(SegmentsService).delete('DOOMED', CALLER);
    await waitingIn('%pg_advisory_xact_lock(%');
    await holder.query('ROLLBACK');
    holder.release();
    expect(await add).toMatchObject({ added: ['DOOMED'] });
    const deleted = await deletion;
    await s.get(SegmentPurgeService).run(segmentId);

    expect(await s.make.members(segmentId)).toEqual([]);
    const { rows } = await s.db.query(
      'SELECT operation, reason, occurred_at FROM membership_history WHERE user_id = $1 AND segment_id = $2 ORDER BY occurred_at, id',
      [USER, segmentId],
    );
    expect(rows.map((row) => [row.operation, row.reason])).toEqual([
      ['add', 'manual'],
      ['remove', 'segment_deleted'],
    ]);
    expect(rows[0].occurred_at.getTime()).toBeLessThanOrEqual(deleted.deletedAt!.getTime());
    await expect(
      s.get(MembershipWritesService).changeUserSegments(USER, { add: [{ slug: 'DOOMED' }], remove: [] }, CALLER),
    ).rejects.toThrow(/DOOMED/);
  });
});
