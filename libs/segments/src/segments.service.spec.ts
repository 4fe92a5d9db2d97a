import { ConflictError, encodeCursor, InvalidCursorError, NotFoundError } from '#libs/common';
import type { JobsProducer } from '#libs/queue';
import { beforeEach, describe, expect, it } from 'vitest';
import { mockDataSource, mockOf } from '../../../test/support/mocks.js';
import type { Segment } from './segment.entity.js';
import type { SegmentsRepository } from './segments.repository.js';
import { segmentCursorKey, segmentNotFound, SegmentsService } from './segments.service.js';

const CALLER = { actor: 'analyst', requestId: 'req-1' };

function segment(values: Partial<Segment> = {}): Segment {
  return { id: 7, slug: 'VOICE', rolloutState: null, rolloutVersion: 0, ...values } as Segment;
}

describe(SegmentsService.name, () => {
  let sut: SegmentsService;
  let segments: ReturnType<typeof mockOf<SegmentsRepository>>;
  let jobs: ReturnType<typeof mockOf<JobsProducer>>;
  let db: ReturnType<typeof mockDataSource>;

  beforeEach(() => {
    db = mockDataSource();
    segments = mockOf<SegmentsRepository>('insert', 'list', 'findActive', 'lockActive', 'update', 'softDelete');
    jobs = mockOf<JobsProducer>('rollout', 'purge');
    sut = new SegmentsService(db.dataSource, segments, jobs);
  });

  describe('create', () => {
    it('inserts a manual segment and starts no rollout', async () => {
      const created = segment();
      segments.insert.mockResolvedValue(created);
      await expect(sut.create({ slug: 'VOICE' }, CALLER)).resolves.toBe(created);
      expect(segments.insert).toHaveBeenCalledWith({ slug: 'VOICE' });
      expect(jobs.rollout).not.toHaveBeenCalled();
    });

    it('starts the rollout of an automatic segment, remembering the request id', async () => {
      segments.insert.mockResolvedValue(segment({ id: 9, rolloutState: 'pending', rolloutVersion: 1 }));
      await sut.create({ slug: 'AUTO', autoPercent: 10 }, CALLER);
      expect(jobs.rollout).toHaveBeenCalledExactlyOnceWith({ segmentId: 9, version: 1, requestId: 'req-1' });
    });

    it('is a conflict naming the slug when an active segment has it, and starts nothing', async () => {
      segments.insert.mockResolvedValue(null);
      await expect(sut.create({ slug: 'VOICE', autoPercent: 5 }, CALLER)).rejects.toThrow(
        new ConflictError('An active segment with slug "VOICE" already exists'),
      );
      expect(jobs.rollout).not.toHaveBeenCalled();
    });
  });

  describe('list', () => {
    it('asks for one row more than the page, from the start without a cursor', async () => {
      segments.list.mockResolvedValue([]);
      await sut.list(10);
      expect(segments.list).toHaveBeenCalledWith(11, undefined);
    });

    it('continues after the slug its cursor holds', async () => {
      segments.list.mockResolvedValue([]);
      await sut.list(5, encodeCursor(segmentCursorKey(segment({ slug: 'B.2' }))));
      expect(segments.list).toHaveBeenCalledWith(6, 'B.2');
    });

    it.each([
      ['not base64url', '%%%'],
      ['a number where a slug belongs', encodeCursor([42])],
      ['not a slug', encodeCursor(['no spaces'])],
      ['two values', encodeCursor(['A', 'B'])],
      ['empty', encodeCursor([])],
    ])('refuses a cursor that is %s, without a query', (_, cursor) => {
      expect(() => sut.list(5, cursor)).toThrow(InvalidCursorError);
      expect(segments.list).not.toHaveBeenCalled();
    });
  });

  describe('getBySlug', () => {
    it('returns the active segment', async () => {
      const found = segment();
      segments.findActive.mockResolvedValue(found);
      await expect(sut.getBySlug('VOICE')).resolves.toBe(found);
      expect(segments.findActive).toHaveBeenCalledWith('VOICE');
    });

    it('is NotFoundError naming the slug', async () => {
      segments.findActive.mockResolvedValue(null);
      await expect(sut.getBySlug('GONE')).rejects.toThrow(new NotFoundError('Segment "GONE"'));
    });
  });

  describe('update', () => {
    it('changes the description under the segment lock, in one transaction, without a rollout', async () => {
      segments.lockActive.mockResolvedValue(segment());
      segments.update.mockResolvedValue(segment({ description: 'new' }));
      await sut.update('VOICE', { description: 'new' }, CALLER);
      expect(db.transaction).toHaveBeenCalledOnce();
      expect(segments.lockActive).toHaveBeenCalledWith(db.manager, 'VOICE');
      expect(segments.update).toHaveBeenCalledWith(db.manager, 7, { description: 'new' });
      expect(jobs.rollout).not.toHaveBeenCalled();
    });

    it.each([[25], [0], [null]])('starts a rollout of the new version for any auto_percent given (%s)', async (autoPercent) => {
      segments.lockActive.mockResolvedValue(segment());
      segments.update.mockResolvedValue(segment({ rolloutVersion: 4 }));
      await sut.update('VOICE', { autoPercent }, CALLER);
      expect(jobs.rollout).toHaveBeenCalledExactlyOnceWith({ segmentId: 7, version: 4, requestId: 'req-1' });
    });

    it('is NotFoundError for a missing segment, changing nothing', async () => {
      segments.lockActive.mockResolvedValue(null);
      await expect(sut.update('GONE', { autoPercent: 5 }, CALLER)).rejects.toThrow(new NotFoundError('Segment "GONE"'));
      expect(segments.update).not.toHaveBeenCalled();
      expect(jobs.rollout).not.toHaveBeenCalled();
    });
  });

  describe('delete', () => {
    it('soft-deletes under the lock as the caller and starts the purge', async () => {
      segments.lockActive.mockResolvedValue(segment());
      const deleted = segment({ deletedBy: 'analyst' } as Partial<Segment>);
      segments.softDelete.mockResolvedValue(deleted);
      await expect(sut.delete('VOICE', CALLER)).resolves.toBe(deleted);
      expect(segments.softDelete).toHaveBeenCalledWith(db.manager, 7, 'analyst');
      expect(jobs.purge).toHaveBeenCalledExactlyOnceWith({ segmentId: 7, requestId: 'req-1' });
    });

    it('is NotFoundError for a missing segment, deleting and purging nothing', async () => {
      segments.lockActive.mockResolvedValue(null);
      await expect(sut.delete('GONE', CALLER)).rejects.toBeInstanceOf(NotFoundError);
      expect(segments.softDelete).not.toHaveBeenCalled();
      expect(jobs.purge).not.toHaveBeenCalled();
    });

    it('starts no purge when the transaction fails', async () => {
      segments.lockActive.mockResolvedValue(segment());
      segments.softDelete.mockRejectedValue(new Error('connection lost'));
      await expect(sut.delete('VOICE', CALLER)).rejects.toThrow('connection lost');
      expect(jobs.purge).not.toHaveBeenCalled();
    });
  });

  it('segmentNotFound names the segment by slug', () => {
    expect(segmentNotFound('X').message).toBe('Segment "X" does not exist');
  });
});
