import type { AppConfig } from '#libs/config';
import type { RolloutRow, SegmentJobsService } from '#libs/segments';
import type { UsersService } from '#libs/users';
import { beforeEach, describe, expect, it } from 'vitest';
import { configOf, mockDataSource, mockOf } from '../../../test/support/mocks.js';
import { MembershipExpiryService } from './membership-expiry.service.js';
import { MembershipRolloutService } from './membership-rollout.service.js';
import type { MembershipsRepository } from './memberships.repository.js';
import { SegmentPurgeService } from './segment-purge.service.js';

/** The bulk paths beside the request write path: rollouts, the expiry sweep and the purge of deleted segments. */

const BATCH = 3;
const config = configOf<AppConfig>({ JOB_BATCH_SIZE: BATCH });
const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });

function rollout(values: Partial<RolloutRow> = {}): RolloutRow {
  return { id: 5, slug: 'AUTO', threshold: 2500, state: 'running', version: 2, cursor: 0, processed: 0, total: 10, ...values };
}

describe(MembershipRolloutService.name, () => {
  let sut: MembershipRolloutService;
  let db: ReturnType<typeof mockDataSource>;
  let segments: ReturnType<typeof mockOf<SegmentJobsService>>;
  let users: ReturnType<typeof mockOf<UsersService>>;
  let memberships: ReturnType<typeof mockOf<MembershipsRepository>>;

  beforeEach(() => {
    db = mockDataSource();
    segments = mockOf<SegmentJobsService>('lockRollout', 'advanceRollout');
    users = mockOf<UsersService>('count', 'chunk');
    memberships = mockOf<MembershipsRepository>('lockRolloutCandidates', 'applyRollout');
    memberships.lockRolloutCandidates.mockResolvedValue({ add: [], remove: [] });
    memberships.applyRollout.mockResolvedValue({ added: 0, removed: 0 });
    sut = new MembershipRolloutService(db.dataSource, segments, users, memberships, config);
  });

  it.each([
    ['the segment is deleted', null],
    ['a newer rollout replaced it', rollout({ version: 3 })],
    ['it is done', rollout({ state: 'done' })],
    ['it failed', rollout({ state: 'failed' })],
  ])('is stale when %s, changing nothing', async (_, row) => {
    segments.lockRollout.mockResolvedValue(row);
    await expect(sut.run(5, 2)).resolves.toBe('stale');
    expect(users.chunk).not.toHaveBeenCalled();
    expect(segments.advanceRollout).not.toHaveBeenCalled();
  });

  it('applies one chunk per transaction, advancing the cursor past its last user, until no user is left', async () => {
    segments.lockRollout
      .mockResolvedValueOnce(rollout({ state: 'pending' }))
      .mockResolvedValueOnce(rollout({ cursor: 30, processed: 3 }))
      .mockResolvedValueOnce(rollout({ cursor: 42, processed: 5 }));
    users.count.mockResolvedValue(5);
    users.chunk
      .mockResolvedValueOnce({ last: 30, count: 3 })
      .mockResolvedValueOnce({ last: 42, count: 2 })
      .mockResolvedValueOnce({ last: null, count: 0 });
    memberships.lockRolloutCandidates.mockResolvedValueOnce({ add: [10, 30], remove: [20] });
    await expect(sut.run(5, 2)).resolves.toBe('done');
    expect(db.transaction).toHaveBeenCalledTimes(3);
    expect(users.chunk.mock.calls.map((call) => call.slice(1))).toEqual([
      [0, BATCH],
      [30, BATCH],
      [42, BATCH],
    ]);
    expect(memberships.lockRolloutCandidates).toHaveBeenNthCalledWith(1, db.manager, rollout({ state: 'pending' }), 0, 30);
    expect(memberships.applyRollout).toHaveBeenNthCalledWith(1, db.manager, rollout({ state: 'pending' }), { add: [10, 30], remove: [20] });
    expect(segments.advanceRollout.mock.calls.map((call) => call[2])).toEqual([
      { state: 'running', cursor: 30, processed: 3, total: 5 },
      { state: 'running', cursor: 42, processed: 5, total: undefined },
      { state: 'done', cursor: 42, processed: 5, total: undefined },
    ]);
  });

  it('counts the registered users only in the first chunk of a rollout', async () => {
    segments.lockRollout.mockResolvedValue(rollout({ state: 'running' }));
    users.chunk.mockResolvedValue({ last: null, count: 0 });
    await sut.run(5, 2);
    expect(users.count).not.toHaveBeenCalled();
  });

  it('plans each statement of a chunk for its ids', async () => {
    segments.lockRollout.mockResolvedValue(rollout());
    users.chunk.mockResolvedValue({ last: null, count: 0 });
    await sut.run(5, 2);
    expect(db.manager.query).toHaveBeenCalledWith(expect.stringContaining('plan_cache_mode'));
  });

  it('stops between chunks when asked to, after a committed chunk', async () => {
    segments.lockRollout.mockResolvedValue(rollout());
    users.chunk.mockResolvedValue({ last: 3, count: 3 });
    await expect(sut.run(5, 2, () => true)).resolves.toBe('interrupted');
    expect(segments.advanceRollout).toHaveBeenCalledOnce();
  });

  it('runs a chunk again when the database chose it as a deadlock victim', async () => {
    segments.lockRollout.mockRejectedValueOnce(deadlock()).mockResolvedValue(rollout());
    users.chunk.mockResolvedValue({ last: null, count: 0 });
    await expect(sut.run(5, 2)).resolves.toBe('done');
    expect(db.transaction).toHaveBeenCalledTimes(2);
  });

  it('passes other failures on', async () => {
    segments.lockRollout.mockRejectedValue(new Error('syntax error'));
    await expect(sut.run(5, 2)).rejects.toThrow('syntax error');
    expect(db.transaction).toHaveBeenCalledOnce();
  });
});

describe(MembershipExpiryService.name, () => {
  let sut: MembershipExpiryService;
  let db: ReturnType<typeof mockDataSource>;
  let memberships: ReturnType<typeof mockOf<MembershipsRepository>>;
  let users: ReturnType<typeof mockOf<UsersService>>;

  beforeEach(() => {
    db = mockDataSource();
    memberships = mockOf<MembershipsRepository>('dueUsers', 'deleteExpired');
    users = mockOf<UsersService>('lockUnlessBusy');
    sut = new MembershipExpiryService(db.dataSource, memberships, users, config);
  });

  it('does nothing when nothing is due', async () => {
    memberships.dueUsers.mockResolvedValue([]);
    await expect(sut.sweep()).resolves.toBe(0);
    expect(memberships.dueUsers).toHaveBeenCalledWith(db.manager, BATCH);
    expect(users.lockUnlessBusy).not.toHaveBeenCalled();
    expect(memberships.deleteExpired).not.toHaveBeenCalled();
  });

  it('locks each due user once, skipping busy ones, and removes what expired of those it locked', async () => {
    memberships.dueUsers.mockResolvedValue([7, 7]);
    users.lockUnlessBusy.mockResolvedValue([7]);
    memberships.deleteExpired.mockResolvedValue(2);
    await expect(sut.sweep()).resolves.toBe(2);
    expect(users.lockUnlessBusy).toHaveBeenCalledWith(db.manager, [7]);
    expect(memberships.deleteExpired).toHaveBeenCalledWith(db.manager, [7]);
  });

  it('sweeps batch after batch while batches are full, summing the removals', async () => {
    memberships.dueUsers.mockResolvedValueOnce([1, 2, 3]).mockResolvedValueOnce([4, 5, 6]).mockResolvedValueOnce([7]);
    users.lockUnlessBusy.mockImplementation(async (_manager, ids: number[]) => ids);
    memberships.deleteExpired.mockResolvedValueOnce(3).mockResolvedValueOnce(3).mockResolvedValueOnce(1);
    await expect(sut.sweep()).resolves.toBe(7);
    expect(db.transaction).toHaveBeenCalledTimes(3);
  });

  it('stops after a full batch that removed nothing (the rest are busy users) or when asked to', async () => {
    memberships.dueUsers.mockResolvedValue([1, 2, 3]);
    users.lockUnlessBusy.mockResolvedValue([]);
    memberships.deleteExpired.mockResolvedValue(0);
    await expect(sut.sweep()).resolves.toBe(0);
    expect(db.transaction).toHaveBeenCalledOnce();
    memberships.deleteExpired.mockResolvedValue(3);
    await expect(sut.sweep(() => true)).resolves.toBe(3);
    expect(db.transaction).toHaveBeenCalledTimes(2);
  });
});

describe(SegmentPurgeService.name, () => {
  let sut: SegmentPurgeService;
  let db: ReturnType<typeof mockDataSource>;
  let segments: ReturnType<typeof mockOf<SegmentJobsService>>;
  let memberships: ReturnType<typeof mockOf<MembershipsRepository>>;
  const deleted = { id: 4, slug: 'OLD', deletedBy: 'analyst' };

  beforeEach(() => {
    db = mockDataSource();
    segments = mockOf<SegmentJobsService>('lockPurge', 'finishPurge');
    memberships = mockOf<MembershipsRepository>('purgeBatch', 'hasMembers', 'deleteOptOuts');
    memberships.hasMembers.mockResolvedValue(false);
    sut = new SegmentPurgeService(db.dataSource, segments, memberships, config);
  });

  it('is finished at once when there is nothing to purge (not deleted, or purged already)', async () => {
    segments.lockPurge.mockResolvedValue(null);
    await expect(sut.run(4)).resolves.toBe(true);
    expect(memberships.purgeBatch).not.toHaveBeenCalled();
    expect(segments.finishPurge).not.toHaveBeenCalled();
  });

  it('removes a batch, then the opt-outs, and marks the segment purged when no member is left', async () => {
    segments.lockPurge.mockResolvedValue(deleted);
    memberships.purgeBatch.mockResolvedValue(2);
    await expect(sut.run(4)).resolves.toBe(true);
    expect(memberships.purgeBatch).toHaveBeenCalledWith(db.manager, deleted, BATCH);
    expect(memberships.deleteOptOuts).toHaveBeenCalledWith(db.manager, 4);
    expect(segments.finishPurge).toHaveBeenCalledWith(db.manager, 4);
  });

  it('goes on while batches are full, or while members are left (added concurrently)', async () => {
    segments.lockPurge.mockResolvedValue(deleted);
    memberships.purgeBatch.mockResolvedValueOnce(BATCH).mockResolvedValueOnce(1).mockResolvedValueOnce(0);
    memberships.hasMembers.mockResolvedValueOnce(true).mockResolvedValueOnce(false);
    await expect(sut.run(4)).resolves.toBe(true);
    expect(memberships.purgeBatch).toHaveBeenCalledTimes(3);
    expect(segments.finishPurge).toHaveBeenCalledOnce();
    expect(db.transaction).toHaveBeenCalledTimes(3);
  });

  it('never marks a segment purged when asked to stop first', async () => {
    segments.lockPurge.mockResolvedValue(deleted);
    memberships.purgeBatch.mockResolvedValue(BATCH);
    await expect(sut.run(4, () => true)).resolves.toBe(false);
    expect(segments.finishPurge).not.toHaveBeenCalled();
    expect(memberships.deleteOptOuts).not.toHaveBeenCalled();
  });
});
