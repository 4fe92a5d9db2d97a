/** A read of some keys, and whoever waits for its answer. */
interface Pending<R> {
  keys: readonly number[];
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export interface ReadBatcherOptions {
  /** Queries running at once. */
  concurrency: number;
  /** Keys per query: reads join a batch whole while it stays within this (a larger read goes alone). */
  maxKeys: number;
}

/**
 * Answers the reads that arrive together with one query over all their keys, so that under
 * load queries grow instead of multiplying. A read goes in the next event-loop turn when fewer
 * than `concurrency` queries run, else with the batch that goes when one finishes. A read is
 * never split across queries: all its keys are answered by one statement (one snapshot), whose
 * result every read of the batch shares. Nothing is cached: a read that starts after a write
 * completed is answered by a query that starts after it.
 */
export class ReadBatcher<R> {
  private queue: Pending<R>[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly query: (keys: number[]) => Promise<R>,
    private readonly options: ReadBatcherOptions,
  ) {}

  read(keys: readonly number[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ keys, resolve, reject });
      this.schedule();
    });
  }

  /** A drain in the next turn, so that the reads of this one go together. */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const batch = this.take();
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.schedule();
      });
    }
  }

  /** Whole reads in arrival order, as many as fit in maxKeys (at least one). */
  private take(): Pending<R>[] {
    let count = 0;
    let keys = 0;
    while (count < this.queue.length && (count === 0 || keys + this.queue[count]!.keys.length <= this.options.maxKeys)) {
      keys += this.queue[count]!.keys.length;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async run(batch: Pending<R>[]): Promise<void> {
    const keys: number[] = [];
    for (const pending of batch) for (const key of pending.keys) keys.push(key);
    try {
      const result = await this.query(keys);
      for (const pending of batch) pending.resolve(result);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }
}
