/** What `apply` answers for a write it left out because another transaction holds its user: try it again later. */
export const RETRY_LATER: unique symbol = Symbol('retryLater');

/** A write of one user, and whatever its outcome is. */
interface Pending<W, O> {
  write: W;
  resolve: (outcome: O) => void;
  reject: (error: unknown) => void;
  /** How many times it was left out already (the wait before the next try grows with it). */
  retries: number;
}

/** The wait before the next try of a left-out write: 5 ms, doubling up to 50 ms. */
const retryDelayMs = (retries: number) => Math.min(5 * 2 ** retries, 50);

export interface WriteBatcherOptions {
  /** Batches running at once (each holds one database connection for its transaction). */
  concurrency: number;
  /** Largest batch. */
  maxSize: number;
  /** Called with the size of every batch that starts (for metrics). */
  onBatch?: (size: number) => void;
}

/**
 * Groups the writes that arrive together into batches applied by one call of `apply` (one
 * transaction, set-based statements), so that concurrent requests share round trips and the
 * commit. A write that finds a free slot goes at once (no added latency when idle); the
 * others wait for the next free slot and go together. Two writes of one user are never in one
 * batch nor in two batches at once, and go in arrival order. A write that `apply` left out
 * (RETRY_LATER: its user is held by another transaction) waits a little, without a slot or a
 * connection, and joins a later batch ahead of its user's later writes; the rest of its batch
 * is answered at once. A batch that fails is retried write by write, so one bad write never
 * fails another.
 */
export class WriteBatcher<W extends { userId: number }, O> {
  private queue: Pending<W, O>[] = [];
  private running = 0;
  /** Users whose write is in a running batch. */
  private readonly busy = new Set<number>();
  /** Users whose write waits to be tried again (RETRY_LATER). */
  private readonly parked = new Set<number>();

  constructor(
    private readonly apply: (writes: W[]) => Promise<(O | typeof RETRY_LATER)[]>,
    private readonly options: WriteBatcherOptions,
  ) {}

  submit(write: W): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ write, resolve, reject, retries: 0 });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      this.running++;
      for (const pending of batch) this.busy.add(pending.write.userId);
      this.options.onBatch?.(batch.length);
      void this.run(batch).finally(() => {
        this.running--;
        for (const pending of batch) this.busy.delete(pending.write.userId);
        this.drain();
      });
    }
  }

  /** The next batch in arrival order: at most one write per user, none of a user that is busy, parked or has an earlier write waiting. */
  private take(): Pending<W, O>[] {
    const batch: Pending<W, O>[] = [];
    const rest: Pending<W, O>[] = [];
    const seen = new Set<number>();
    for (const pending of this.queue) {
      const userId = pending.write.userId;
      if (batch.length < this.options.maxSize && !seen.has(userId) && !this.busy.has(userId) && !this.parked.has(userId))
        batch.push(pending);
      else rest.push(pending);
      seen.add(userId);
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Pending<W, O>[]): Promise<void> {
    try {
      const outcomes = await this.apply(batch.map((pending) => pending.write));
      batch.forEach((pending, index) => this.settle(pending, outcomes[index]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      await Promise.all(
        batch.map(async (pending) => {
          try {
            this.settle(pending, (await this.apply([pending.write]))[0]!);
          } catch (alone) {
            pending.reject(alone);
          }
        }),
      );
    }
  }

  private settle(pending: Pending<W, O>, outcome: O | typeof RETRY_LATER): void {
    if (outcome !== RETRY_LATER) return pending.resolve(outcome);
    const userId = pending.write.userId;
    this.parked.add(userId);
    setTimeout(() => {
      this.parked.delete(userId);
      pending.retries++;
      // First in the queue: ahead of its user's later writes, which waited behind it.
      this.queue.unshift(pending);
      this.drain();
    }, retryDelayMs(pending.retries));
  }
}
