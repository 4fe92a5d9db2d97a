import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReadBatcher } from './read-batcher.js';

/** A query whose calls the test releases one by one, recording the keys of each. */
function controlled() {
  const queries: { keys: number[]; release: (error?: Error) => void }[] = [];
  const query = (keys: number[]) =>
    new Promise<string>((resolve, reject) => {
      queries.push({ keys, release: (error) => (error ? reject(error) : resolve(`answer to ${keys.join(',')}`)) });
    });
  return { queries, query };
}
/** Past the turn in which a finished query's slot goes to the next batch. */
const settle = async () => {
  await tick();
  await tick();
};

describe('read batcher', () => {
  it('answers the reads of one turn with one query, and groups the reads that arrive while the slots are busy', async () => {
    const { queries, query } = controlled();
    const batcher = new ReadBatcher(query, { concurrency: 1, maxKeys: 100 });
    const first = [batcher.read([1]), batcher.read([2, 3])];
    await tick();
    expect(queries.map((q) => q.keys)).toEqual([[1, 2, 3]]);
    const later = [batcher.read([4]), batcher.read([5])];
    await tick();
    expect(queries).toHaveLength(1);
    queries[0]!.release();
    expect(await Promise.all(first)).toEqual(['answer to 1,2,3', 'answer to 1,2,3']);
    await tick();
    expect(queries.map((q) => q.keys)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    queries[1]!.release();
    expect(await Promise.all(later)).toEqual(['answer to 4,5', 'answer to 4,5']);
  });

  it('never splits a read across queries: batches take whole reads up to maxKeys, a larger read goes alone', async () => {
    const { queries, query } = controlled();
    const batcher = new ReadBatcher(query, { concurrency: 3, maxKeys: 5 });
    const reads = [batcher.read([1, 2, 3]), batcher.read([4, 5]), batcher.read([6, 7, 8, 9, 10, 11, 12]), batcher.read([13])];
    await tick();
    expect(queries.map((q) => q.keys)).toEqual([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11, 12], [13]]);
    for (const q of queries) q.release();
    expect(await Promise.all(reads)).toEqual(['answer to 1,2,3,4,5', 'answer to 1,2,3,4,5', 'answer to 6,7,8,9,10,11,12', 'answer to 13']);
  });

  it('runs at most `concurrency` queries at once', async () => {
    const { queries, query } = controlled();
    const batcher = new ReadBatcher(query, { concurrency: 2, maxKeys: 1 });
    const reads = [1, 2, 3, 4].map((key) => batcher.read([key]));
    await tick();
    expect(queries.map((q) => q.keys)).toEqual([[1], [2]]);
    queries[1]!.release();
    await reads[1];
    await settle();
    expect(queries.map((q) => q.keys)).toEqual([[1], [2], [3]]);
    queries[0]!.release();
    queries[2]!.release();
    await Promise.all([reads[0], reads[2]]);
    await settle();
    queries[3]!.release();
    expect(await reads[3]).toBe('answer to 4');
  });

  it('fails only the reads of a failing query', async () => {
    const { queries, query } = controlled();
    const batcher = new ReadBatcher(query, { concurrency: 2, maxKeys: 2 });
    const failing = [batcher.read([1]), batcher.read([2])];
    const other = batcher.read([3]);
    await tick();
    queries[0]!.release(new Error('connection lost'));
    queries[1]!.release();
    await expect(failing[0]).rejects.toThrow('connection lost');
    await expect(failing[1]).rejects.toThrow('connection lost');
    expect(await other).toBe('answer to 3');
  });
});
