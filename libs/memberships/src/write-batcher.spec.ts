import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WriteBatcher } from './write-batcher.js';

interface Write {
  userId: number;
  label: string;
}

/** An `apply` whose batches the test releases one by one, recording what each held. */
function controlled() {
  const batches: { writes: Write[]; release: (error?: Error) => void }[] = [];
  const apply = (writes: Write[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ writes, release: (error) => (error ? reject(error) : resolve(writes.map((write) => `done ${write.label}`))) });
    });
  return { batches, apply };
}

describe('write batcher', () => {
  it('sends a write at once when a slot is free, and groups the writes that arrive meanwhile', async () => {
    const { batches, apply } = controlled();
    const sizes: number[] = [];
    const batcher = new WriteBatcher<Write, string>(apply, { concurrency: 1, maxSize: 100, onBatch: (size) => sizes.push(size) });
    const first = batcher.submit({ userId: 1, label: 'a' });
    await tick();
    expect(batches).toHaveLength(1);
    const rest = [2, 3, 4].map((userId) => batcher.submit({ userId, label: `u${userId}` }));
    await tick();
    expect(batches).toHaveLength(1);
    batches[0]!.release();
    expect(await first).toBe('done a');
    await tick();
    expect(batches[1]!.writes.map((write) => write.userId)).toEqual([2, 3, 4]);
    batches[1]!.release();
    expect(await Promise.all(rest)).toEqual(['done u2', 'done u3', 'done u4']);
    expect(sizes).toEqual([1, 3]);
  });

  it('never puts two writes of one user in one batch or in two running batches, and keeps their order', async () => {
    const { batches, apply } = controlled();
    const batcher = new WriteBatcher<Write, string>(apply, { concurrency: 4, maxSize: 100 });
    const results = [
      batcher.submit({ userId: 7, label: 'first' }),
      batcher.submit({ userId: 8, label: 'other' }),
      batcher.submit({ userId: 7, label: 'second' }),
      batcher.submit({ userId: 7, label: 'third' }),
    ];
    await tick();
    // 7 and 8 went; 7's later writes wait although slots are free.
    expect(batches.map((batch) => batch.writes.map((write) => write.label))).toEqual([['first'], ['other']]);
    batches[0]!.release();
    await tick();
    expect(batches[2]!.writes.map((write) => write.label)).toEqual(['second']);
    batches[2]!.release();
    await tick();
    expect(batches[3]!.writes.map((write) => write.label)).toEqual(['third']);
    batches[3]!.release();
    batches[1]!.release();
    expect(await Promise.all(results)).toEqual(['done first', 'done other', 'done second', 'done third']);
  });

  it('bounds batches by maxSize and running batches by concurrency', async () => {
    const { batches, apply } = controlled();
    const batcher = new WriteBatcher<Write, string>(apply, { concurrency: 2, maxSize: 2 });
    const results = Array.from({ length: 7 }, (_, index) => batcher.submit({ userId: index, label: String(index) }));
    await tick();
    // The first two found free slots; the other five wait.
    expect(batches.map((batch) => batch.writes.length)).toEqual([1, 1]);
    batches[0]!.release();
    await tick();
    expect(batches.map((batch) => batch.writes.length)).toEqual([1, 1, 2]);
    batches[1]!.release();
    batches[2]!.release();
    await tick();
    expect(batches.map((batch) => batch.writes.length)).toEqual([1, 1, 2, 2, 1]);
    batches[3]!.release();
    batches[4]!.release();
    expect(await Promise.all(results)).toHaveLength(7);
  });

  it('retries a failed batch write by write: only the write that fails alone gets the error', async () => {
    const applied: number[][] = [];
    const batcher = new WriteBatcher<Write, string>(
      async (writes) => {
        applied.push(writes.map((write) => write.userId));
        if (writes.some((write) => write.label === 'bad')) throw new Error('constraint');
        return writes.map((write) => `done ${write.label}`);
      },
      { concurrency: 1, maxSize: 10 },
    );
    const blocker = batcher.submit({ userId: 100, label: 'blocker' });
    const results = [
      batcher.submit({ userId: 1, label: 'good' }),
      batcher.submit({ userId: 2, label: 'bad' }),
      batcher.submit({ userId: 3, label: 'fine' }),
    ].map((result) =>
      result.then(
        (value) => value,
        (error: Error) => `error ${error.message}`,
      ),
    );
    await blocker;
    expect(await Promise.all(results)).toEqual(['done good', 'error constraint', 'done fine']);
    expect(applied).toEqual([[100], [1, 2, 3], [1], [2], [3]]);
  });
});
