import { NotFoundError } from '#libs/common';
import type { AppConfig } from '#libs/config';
import type { MembershipWritesService } from '#libs/memberships';
import type { JobsProducer } from '#libs/queue';
import type { SegmentsService } from '#libs/segments';
import { Readable } from 'node:stream';
import type { Counter } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configOf, mockDataSource, mockOf } from '../../../test/support/mocks.js';
import type { Import } from './import.entity.js';
import type { ImportsRepository } from './imports.repository.js';
import { ImportsService } from './imports.service.js';

const CALLER = { actor: 'importer', requestId: 'req-9' };
const BATCH = 2;

function running(values: Partial<Import> = {}): Import {
  return { id: 'imp', segmentId: 3, mode: 'add', phase: 'apply', cursor: 0, expiresAt: null, actor: 'importer', ...values } as Import;
}

describe(ImportsService.name, () => {
  let sut: ImportsService;
  let db: ReturnType<typeof mockDataSource>;
  let imports: ReturnType<typeof mockOf<ImportsRepository>>;
  let segments: ReturnType<typeof mockOf<SegmentsService>>;
  let memberships: ReturnType<typeof mockOf<MembershipWritesService>>;
  let jobs: ReturnType<typeof mockOf<JobsProducer>>;
  let applied: { inc: ReturnType<typeof vi.fn> };
  const client = { fake: 'staging connection' };

  beforeEach(() => {
    db = mockDataSource();
    imports = mockOf<ImportsRepository>(
      'stage',
      'countStaged',
      'insert',
      'finish',
      'find',
      'lockRunning',
      'nextStaged',
      'nextUnlisted',
      'advance',
      'unfinished',
    );
    // Staging reads the parsed file to its end, then commits with the staging connection.
    imports.stage.mockImplementation(async (rows: Readable, commit: (client: unknown) => Promise<unknown>) => {
      for await (const _ of rows);
      return commit(client);
    });
    imports.find.mockImplementation(async (id: string) => ({ id }));
    segments = mockOf<SegmentsService>('getBySlug');
    segments.getBySlug.mockResolvedValue({ id: 3, slug: 'VOICE' });
    memberships = mockOf<MembershipWritesService>('changeSegmentMembersIn');
    memberships.changeSegmentMembersIn.mockResolvedValue({ added: 1, removed: 0 });
    jobs = mockOf<JobsProducer>('import');
    applied = { inc: vi.fn() };
    sut = new ImportsService(
      db.dataSource,
      imports,
      segments,
      memberships,
      jobs,
      configOf<AppConfig>({ JOB_BATCH_SIZE: BATCH, IMPORT_BODY_LIMIT_BYTES: 1_000_000 }),
      applied as unknown as Counter,
    );
  });

  describe('start', () => {
    it('stages a valid file, records it running with its counts, and starts its job', async () => {
      imports.countStaged.mockResolvedValue(2);
      await sut.start('VOICE', 'add', 60, Readable.from([Buffer.from('user_id\n1\n2\n')]), CALLER);
      const [executor, row] = imports.insert.mock.calls[0]!;
      expect(executor).toBe(client);
      expect(row).toMatchObject({ segmentId: 3, mode: 'add', ttlSeconds: 60, actor: 'importer', lines: 3, total: 2, badLines: null });
      expect(jobs.import).toHaveBeenCalledExactlyOnceWith({ importId: row.id, requestId: 'req-9' });
      expect(imports.finish).not.toHaveBeenCalled();
    });

    it('records a file with bad lines as failed with them, changing nothing and starting no job', async () => {
      await sut.start('VOICE', 'replace', undefined, Readable.from([Buffer.from('1\nx\n')]), CALLER);
      expect(imports.insert).toHaveBeenCalledExactlyOnceWith(
        db.manager,
        expect.objectContaining({ total: 0, badLines: [{ line: 2, message: expect.any(String) }] }),
      );
      expect(imports.finish).toHaveBeenCalledWith(db.manager, expect.any(String), 'failed');
      expect(jobs.import).not.toHaveBeenCalled();
    });

    it('records an empty file as done at once', async () => {
      await sut.start('VOICE', 'add', undefined, Readable.from([Buffer.from('user_id\n')]), CALLER);
      expect(imports.finish).toHaveBeenCalledWith(db.manager, expect.any(String), 'done');
      expect(jobs.import).not.toHaveBeenCalled();
    });

    it('gives removals no expiry', async () => {
      imports.countStaged.mockResolvedValue(1);
      await sut.start('VOICE', 'remove', 60, Readable.from([Buffer.from('1\n')]), CALLER);
      expect(imports.insert.mock.calls[0]![1]).toMatchObject({ mode: 'remove', ttlSeconds: undefined });
    });

    it('is NotFoundError for an unknown segment, staging nothing', async () => {
      segments.getBySlug.mockRejectedValue(new NotFoundError('Segment "X"'));
      await expect(sut.start('X', 'add', undefined, Readable.from([Buffer.from('1\n')]), CALLER)).rejects.toBeInstanceOf(NotFoundError);
      expect(imports.stage).not.toHaveBeenCalled();
    });
  });

  it('get is NotFoundError for an unknown import', async () => {
    imports.find.mockResolvedValue(null);
    await expect(sut.get('nope')).rejects.toThrow(new NotFoundError('Import nope'));
  });

  describe('run', () => {
    it('applies the staged ids chunk by chunk through the membership write path, then finishes', async () => {
      imports.lockRunning.mockResolvedValue(running({ expiresAt: new Date(5000) }));
      imports.nextStaged.mockResolvedValueOnce([4, 9]).mockResolvedValueOnce([12]).mockResolvedValueOnce([]);
      await expect(sut.run('imp')).resolves.toBe('finished');
      expect(memberships.changeSegmentMembersIn).toHaveBeenNthCalledWith(
        1,
        db.manager,
        3,
        { add: [4, 9], remove: [], expiresAt: new Date(5000) },
        'importer',
      );
      expect(imports.advance).toHaveBeenNthCalledWith(1, db.manager, 'imp', {
        phase: 'apply',
        cursor: 9,
        processed: 2,
        added: 1,
        removed: 0,
      });
      expect(imports.nextStaged).toHaveBeenNthCalledWith(1, db.manager, 'imp', 0, BATCH);
      expect(imports.finish).toHaveBeenCalledWith(db.manager, 'imp', 'done');
      expect(applied.inc).toHaveBeenCalledWith({ mode: 'add' }, 2);
      expect(db.transaction).toHaveBeenCalledTimes(3);
    });

    it('removes the staged ids of a remove import', async () => {
      imports.lockRunning.mockResolvedValue(running({ mode: 'remove' }));
      imports.nextStaged.mockResolvedValueOnce([4]).mockResolvedValueOnce([]);
      await sut.run('imp');
      expect(memberships.changeSegmentMembersIn).toHaveBeenCalledWith(db.manager, 3, { add: [], remove: [4] }, 'importer');
    });

    it('prunes the members a replace file does not list after applying it', async () => {
      imports.lockRunning
        .mockResolvedValueOnce(running({ mode: 'replace' }))
        .mockResolvedValue(running({ mode: 'replace', phase: 'prune' }));
      imports.nextStaged.mockResolvedValueOnce([]);
      imports.nextUnlisted.mockResolvedValueOnce([7, 8]).mockResolvedValueOnce([]);
      await expect(sut.run('imp')).resolves.toBe('finished');
      expect(imports.advance).toHaveBeenNthCalledWith(1, db.manager, 'imp', {
        phase: 'prune',
        cursor: 0,
        processed: 0,
        added: 0,
        removed: 0,
      });
      expect(memberships.changeSegmentMembersIn).toHaveBeenCalledExactlyOnceWith(db.manager, 3, { add: [], remove: [7, 8] }, 'importer');
      expect(imports.advance).toHaveBeenLastCalledWith(db.manager, 'imp', expect.objectContaining({ phase: 'prune', cursor: 8 }));
      expect(imports.finish).toHaveBeenCalledWith(db.manager, 'imp', 'done');
    });

    it('is finished when the import is not running any more', async () => {
      imports.lockRunning.mockResolvedValue(null);
      await expect(sut.run('imp')).resolves.toBe('finished');
      expect(imports.nextStaged).not.toHaveBeenCalled();
    });

    it('fails the import when its segment was deleted', async () => {
      imports.lockRunning.mockResolvedValue(running());
      imports.nextStaged.mockResolvedValue([1]);
      memberships.changeSegmentMembersIn.mockRejectedValue(new NotFoundError('Segment 3'));
      await expect(sut.run('imp')).resolves.toBe('finished');
      expect(imports.finish).toHaveBeenCalledWith(db.manager, 'imp', 'failed', 'The segment was deleted');
    });

    it('passes other failures on, and stops between chunks when asked to', async () => {
      imports.lockRunning.mockResolvedValue(running());
      imports.nextStaged.mockResolvedValue([1]);
      await expect(sut.run('imp', () => true)).resolves.toBe('interrupted');
      expect(imports.advance).toHaveBeenCalledOnce();
      memberships.changeSegmentMembersIn.mockRejectedValue(new Error('boom'));
      await expect(sut.run('imp')).rejects.toThrow('boom');
    });
  });
});
