/** A write of one user, and whatever its outcome is. */
interface Pending<W, O> {
  write: W;
  resolve: (outcome: O) => void;
  reject: (error: unknown) => void;
}

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
 * batch nor in two batches at once, and go in arrival order. A batch that fails is retried
 * write by write, so one bad write never fails another.
 */
export class WriteBatcher<W extends { userId: number }, O> {
  private queue: Pending<W, O>[] = [];
  private running = 0;
  /** Users whose write is in a running batch. */
  private readonly busy = new Set<number>();

  constructor(
    private readonly apply: (writes: W[]) => Promise<O[]>,
    private readonly options: WriteBatcherOptions,
  ) {}

  submit(write: W): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
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

  /** The next batch in arrival order: at most one write per user, none of a user that is busy or has an earlier write waiting. */
  private take(): Pending<W, O>[] {
    const batch: Pending<W, O>[] = [];
    const rest: Pending<W, O>[] = [];
    const seen = new Set<number>();
    for (const pending of this.queue) {
      const userId = pending.write.userId;
      if (batch.length < this.options.maxSize && !seen.has(userId) && !this.busy.has(userId)) batch.push(pending);
      else rest.push(pending);
      seen.add(userId);
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Pending<W, O>[]): Promise<void> {
    try {
      const outcomes = await this.apply(batch.map((pending) => pending.write));
      batch.forEach((pending, index) => pending.resolve(outcomes[index]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      await Promise.all(
        batch.map(async (pending) => {
          try {
            pending.resolve((await this.apply([pending.write]))[0]!);
          } catch (alone) {
            pending.reject(alone);
          }
        }),
      );
    }
  }
}
