import { IdAllocationError } from '#libs/common';
import type { EntityManager } from 'typeorm';
import { beforeEach, describe, expect, it } from 'vitest';
import { mockDataSource, mockOf } from '../../../test/support/mocks.js';
import type { UsersRepository } from './users.repository.js';
import { UsersService } from './users.service.js';

describe(UsersService.name, () => {
  let sut: UsersService;
  let users: ReturnType<typeof mockOf<UsersRepository>>;
  let db: ReturnType<typeof mockDataSource>;
  const manager = { fake: 'caller transaction' } as unknown as EntityManager;

  beforeEach(() => {
    db = mockDataSource();
    users = mockOf<UsersRepository>(
      'lock',
      'lockUnlessBusy',
      'insertNew',
      'insertNewUnlessBusy',
      'chunk',
      'count',
      'nextAllocatedId',
      'firstFreeFrom',
      'moveAllocator',
    );
    sut = new UsersService(db.dataSource, users);
  });

  describe('lockAndRegister', () => {
    it('locks the known users, registers only the others, and returns those', async () => {
      users.lock.mockResolvedValue([1, 3]);
      users.insertNew.mockResolvedValue([2, 4]);
      await expect(sut.lockAndRegister(manager, [1, 2, 3, 4])).resolves.toEqual([2, 4]);
      expect(users.lock).toHaveBeenCalledExactlyOnceWith(manager, [1, 2, 3, 4]);
      expect(users.insertNew).toHaveBeenCalledWith(manager, [2, 4]);
    });

    it('locks the users another transaction registered meanwhile (neither locked nor created here)', async () => {
      users.lock.mockResolvedValueOnce([1]).mockResolvedValueOnce([3]);
      users.insertNew.mockResolvedValue([2]);
      await expect(sut.lockAndRegister(manager, [1, 2, 3])).resolves.toEqual([2]);
      expect(users.lock).toHaveBeenCalledTimes(2);
      expect(users.lock).toHaveBeenLastCalledWith(manager, [3]);
    });

    it('counts repeated ids once: nothing is left to lock again', async () => {
      users.lock.mockResolvedValue([5]);
      users.insertNew.mockResolvedValue([6]);
      await sut.lockAndRegister(manager, [5, 6, 6, 5]);
      expect(users.lock).toHaveBeenCalledOnce();
    });
  });

  describe('lockAndRegisterUnlessBusy', () => {
    it('registers the unknown users and reports the held ones busy', async () => {
      users.lockUnlessBusy.mockResolvedValue({ locked: [1], busy: [2] });
      users.insertNewUnlessBusy.mockResolvedValue({ created: [3, 4], busy: false });
      await expect(sut.lockAndRegisterUnlessBusy(manager, [1, 2, 3, 4])).resolves.toEqual({ created: [3, 4], busy: [2] });
      expect(users.insertNewUnlessBusy).toHaveBeenCalledWith(manager, [3, 4]);
    });

    it('reports every unknown user busy when their registration would wait', async () => {
      users.lockUnlessBusy.mockResolvedValue({ locked: [1], busy: [] });
      users.insertNewUnlessBusy.mockResolvedValue({ created: [], busy: true });
      await expect(sut.lockAndRegisterUnlessBusy(manager, [1, 7, 8])).resolves.toEqual({ created: [], busy: [7, 8] });
    });

    it('reports busy the ids another transaction registered meanwhile (this one holds no lock on them)', async () => {
      users.lockUnlessBusy.mockResolvedValue({ locked: [], busy: [] });
      users.insertNewUnlessBusy.mockResolvedValue({ created: [7], busy: false });
      await expect(sut.lockAndRegisterUnlessBusy(manager, [7, 8])).resolves.toEqual({ created: [7], busy: [8] });
    });
  });

  it('lockUnlessBusy returns only the users it locked', async () => {
    users.lockUnlessBusy.mockResolvedValue({ locked: [1, 2], busy: [3] });
    await expect(sut.lockUnlessBusy(manager, [1, 2, 3])).resolves.toEqual([1, 2]);
  });

  it('passes lock, register, chunk and count to the repository in the caller transaction', async () => {
    users.lock.mockResolvedValue([1]);
    users.insertNew.mockResolvedValue([2]);
    users.chunk.mockResolvedValue({ last: 9, count: 3 });
    users.count.mockResolvedValue(12);
    await expect(sut.lock(manager, [1])).resolves.toEqual([1]);
    await expect(sut.register(manager, [2])).resolves.toEqual([2]);
    await expect(sut.chunk(manager, 6, 3)).resolves.toEqual({ last: 9, count: 3 });
    await expect(sut.count(manager)).resolves.toBe(12);
    expect(users.chunk).toHaveBeenCalledWith(manager, 6, 3);
    expect(db.transaction).not.toHaveBeenCalled();
  });

  it('nextId reads the allocator on the pool', async () => {
    users.nextAllocatedId.mockResolvedValue(1001);
    await expect(sut.nextId()).resolves.toBe(1001);
    expect(users.nextAllocatedId).toHaveBeenCalledWith(db.manager);
  });

  describe('skipTaken', () => {
    it('moves the allocator to the first free id after the taken one', async () => {
      users.firstFreeFrom.mockResolvedValue(52);
      await sut.skipTaken(50);
      expect(users.firstFreeFrom).toHaveBeenCalledExactlyOnceWith(db.manager, 50);
      expect(users.moveAllocator).toHaveBeenCalledWith(db.manager, 52);
    });

    it('wraps around to the first free id from 1 when none is free above', async () => {
      users.firstFreeFrom.mockResolvedValueOnce(null).mockResolvedValueOnce(3);
      await sut.skipTaken(2 ** 53 - 1);
      expect(users.firstFreeFrom).toHaveBeenLastCalledWith(db.manager, 1);
      expect(users.moveAllocator).toHaveBeenCalledWith(db.manager, 3);
    });

    it('is IdAllocationError when no id is free at all, moving nothing', async () => {
      users.firstFreeFrom.mockResolvedValue(null);
      await expect(sut.skipTaken(1)).rejects.toBeInstanceOf(IdAllocationError);
      expect(users.moveAllocator).not.toHaveBeenCalled();
    });
  });
});
