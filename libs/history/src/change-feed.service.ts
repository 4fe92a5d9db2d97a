import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectMetric, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { CursorExpiredError, cursorInteger, decodeCursor, encodeCursor, StreamLimitError } from '#libs/common';
import { AppConfig } from '#libs/config';
import type pg from 'pg';
import type { Gauge, Histogram } from 'prom-client';
import { HistoryRepository } from './history.repository.js';
import type { FeedEntry, FeedPosition, HistoryEntry } from './history.types.js';

export const FEED_STREAMS = 'change_feed_streams';
export const FEED_LAG = 'change_feed_lag_seconds';
export const feedMetricProviders = [
  makeGaugeProvider({ name: FEED_STREAMS, help: 'Open change-feed streams (Server-Sent Events)' }),
  makeHistogramProvider({
    name: FEED_LAG,
    help: 'Time from a membership change (for an expiry, its instant) to its sending on a change-feed stream',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
];

/** A stream that finds nothing new looks again after this long even without a notification. */
export const FEED_POLL_MS = 250;

/** The position just after an entry: what its cursor holds. */
export const feedPositionOf = (entry: FeedEntry): FeedPosition => ({ batch: entry.batch, id: entry.id });
export const feedCursorOf = (entry: FeedEntry): string => encodeCursor([entry.batch, entry.id]);

/** Before the first entry. */
const START: FeedPosition = { batch: 0, id: 0 };

/** A cursor holds [batch, id]; one of [id] was issued before the relay, when every entry was in batch 0. */
function parseFeedCursor(values: unknown[]): FeedPosition | undefined {
  const [batch, id] = values.length === 1 ? [0, cursorInteger(values[0])] : [cursorInteger(values[0]), cursorInteger(values[1])];
  return values.length <= 2 && batch !== undefined && id !== undefined ? { batch, id } : undefined;
}

const before = (a: FeedPosition, b: FeedPosition) => a.batch < b.batch || (a.batch === b.batch && a.id < b.id);

/**
 * The change feed: every membership change once, in the order the relay published them (see
 * ChangeFeedRelay: each user's changes in the order they happened; no total order across
 * users), resumable from any cursor it handed out. Streams wake when a relay notifies that it
 * published (one LISTEN connection per process for all of them) and look again every
 * FEED_POLL_MS anyway, so a change is sent within a second of its commit.
 */
@Injectable()
export class ChangeFeedService implements OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeedService.name);
  private streams = 0;
  private readonly waiting = new Set<() => void>();
  private listener?: Promise<pg.Client>;
  private closed = false;

  constructor(
    private readonly history: HistoryRepository,
    private readonly config: AppConfig,
    @InjectMetric(FEED_STREAMS) private readonly openStreams: Gauge,
    @InjectMetric(FEED_LAG) private readonly lag: Histogram,
  ) {}

  /** The position a cursor stands for (before every entry without one); 400 for a cursor not issued here, 410 behind retention. */
  async position(cursor: string | undefined, parameter: string): Promise<FeedPosition> {
    if (cursor === undefined) return START;
    const position = decodeCursor(cursor, parseFeedCursor, parameter);
    const horizon = await this.history.feedHorizon();
    if (horizon !== null && before(position, horizon)) {
      throw new CursorExpiredError('The history this cursor points into was dropped by retention; start again without a cursor');
    }
    return position;
  }

  /** Up to `limit` published entries after `position`. */
  async page(position: FeedPosition, limit: number): Promise<FeedEntry[]> {
    return this.history.feed(position, await this.history.publishedBatch(), limit);
  }

  /** Opens a stream (StreamLimitError beyond FEED_MAX_STREAMS); call the returned function when it ends. */
  openStream(): () => void {
    if (this.streams >= this.config.FEED_MAX_STREAMS) throw new StreamLimitError(this.config.FEED_MAX_STREAMS);
    this.streams++;
    this.openStreams.set(this.streams);
    this.listen();
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.streams--;
      this.openStreams.set(this.streams);
    };
  }

  /** Resolves at the next notification of new entries, or after `ms`. */
  waitForChanges(ms = FEED_POLL_MS): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiting.add(wake);
    });
  }

  /** Records how long after its change an entry went out (for an expiry, after the instant it expired). */
  sent(entry: HistoryEntry): void {
    this.lag.observe(Math.max(0, (Date.now() - entry.occurredAt.getTime()) / 1000));
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.waiting]) wake();
    const listener = await this.listener?.catch(() => undefined);
    await listener?.end().catch(() => undefined);
  }

  /** One listening connection per process, opened with the first stream and reopened after a failure. */
  private listen(): void {
    if (this.listener || this.closed) return;
    const reset = (error: unknown) => {
      this.logger.warn(`Change-feed listener lost (${(error as Error).message}); streams poll until it is back`);
      this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.streams > 0 && !this.closed) setTimeout(() => this.listen(), 1000);
    };
    const wakeAll = () => {
      for (const wake of [...this.waiting]) wake();
    };
    const { client, ready } = this.history.listenForChanges(wakeAll, reset);
    this.listener = ready.then(() => client);
    this.listener.catch(reset);
  }
}
