import { CursorExpiredError, encodeCursor, InvalidCursorError, StreamLimitError } from '#libs/common';
import type { AppConfig } from '#libs/config';
import type { Gauge, Histogram } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { configOf, mockOf } from '../../../test/support/mocks.js';
import { ChangeFeedService, feedCursorOf, feedPositionOf } from './change-feed.service.js';
import type { HistoryRepository } from './history.repository.js';
import type { FeedEntry, HistoryEntry } from './history.types.js';

describe(ChangeFeedService.name, () => {
  let sut: ChangeFeedService;
  let history: ReturnType<typeof mockOf<HistoryRepository>>;
  let gauge: { set: ReturnType<typeof vi.fn> };
  let lag: { observe: ReturnType<typeof vi.fn> };
  let notify: () => void;
  const client = { end: vi.fn(async () => undefined) };

  beforeEach(() => {
    history = mockOf<HistoryRepository>('feedHorizon', 'feed', 'publishedBatch', 'listenForChanges');
    history.feedHorizon.mockResolvedValue(null);
    history.listenForChanges.mockImplementation((onChange: () => void) => {
      notify = onChange;
      return { client, ready: Promise.resolve() };
    });
    gauge = { set: vi.fn() };
    lag = { observe: vi.fn() };
    sut = new ChangeFeedService(
      history,
      configOf<AppConfig>({ FEED_MAX_STREAMS: 2 }),
      gauge as unknown as Gauge,
      lag as unknown as Histogram,
    );
  });

  describe('position', () => {
    it('starts before every entry without a cursor, asking nothing', async () => {
      await expect(sut.position(undefined, 'after')).resolves.toEqual({ batch: 0, id: 0 });
      expect(history.feedHorizon).not.toHaveBeenCalled();
    });

    it('reads [batch, id] cursors, and [id] cursors issued before the relay as batch 0', async () => {
      await expect(sut.position(encodeCursor([3, 10]), 'after')).resolves.toEqual({ batch: 3, id: 10 });
      await expect(sut.position(encodeCursor([10]), 'after')).resolves.toEqual({ batch: 0, id: 10 });
    });

    it.each([
      ['three values', encodeCursor([1, 2, 3])],
      ['a negative id', encodeCursor([1, -2])],
      ['a string', encodeCursor(['1', 2])],
      ['garbage', 'not*a*cursor'],
    ])('refuses a cursor of %s, naming the parameter', async (_, cursor) => {
      await expect(sut.position(cursor, 'last-event-id')).rejects.toEqual(new InvalidCursorError('last-event-id'));
    });

    it('refuses a cursor behind the retained history, and accepts one at its horizon', async () => {
      history.feedHorizon.mockResolvedValue({ batch: 5, id: 100 });
      await expect(sut.position(encodeCursor([5, 99]), 'after')).rejects.toBeInstanceOf(CursorExpiredError);
      await expect(sut.position(encodeCursor([4, 500]), 'after')).rejects.toBeInstanceOf(CursorExpiredError);
      await expect(sut.position(encodeCursor([5, 100]), 'after')).resolves.toEqual({ batch: 5, id: 100 });
      await expect(sut.position(encodeCursor([6, 1]), 'after')).resolves.toEqual({ batch: 6, id: 1 });
    });
  });

  it('pages published entries only', async () => {
    history.publishedBatch.mockResolvedValue(8);
    history.feed.mockResolvedValue([]);
    await sut.page({ batch: 2, id: 3 }, 50);
    expect(history.feed).toHaveBeenCalledWith({ batch: 2, id: 3 }, 8, 50);
  });

  it('gives an entry the cursor of the position just after it', () => {
    const entry = { batch: 4, id: 77 } as FeedEntry;
    expect(feedPositionOf(entry)).toEqual({ batch: 4, id: 77 });
    expect(feedCursorOf(entry)).toBe(encodeCursor([4, 77]));
  });

  describe('streams', () => {
    it('counts open streams, refuses one beyond the limit, and closes each once', () => {
      const close = sut.openStream();
      sut.openStream();
      expect(() => sut.openStream()).toThrow(new StreamLimitError(2));
      expect(gauge.set).toHaveBeenLastCalledWith(2);
      close();
      close();
      expect(gauge.set).toHaveBeenLastCalledWith(1);
      expect(() => sut.openStream()).not.toThrow();
    });

    it('listen on one connection for all streams', () => {
      sut.openStream();
      sut.openStream();
      expect(history.listenForChanges).toHaveBeenCalledOnce();
    });

    it('wake waiting streams at a notification, before their poll interval', async () => {
      sut.openStream();
      const woken = vi.fn();
      void sut.waitForChanges(60_000).then(woken);
      await Promise.resolve();
      expect(woken).not.toHaveBeenCalled();
      notify();
      await vi.waitFor(() => expect(woken).toHaveBeenCalledOnce());
    });

    it('look again after the poll interval without a notification', async () => {
      vi.useFakeTimers();
      try {
        const woken = vi.fn();
        void sut.waitForChanges(250).then(woken);
        await vi.advanceTimersByTimeAsync(249);
        expect(woken).not.toHaveBeenCalled();
        await vi.advanceTimersByTimeAsync(1);
        expect(woken).toHaveBeenCalledOnce();
      } finally {
        vi.useRealTimers();
      }
    });

    it('are all woken and the listener closed at shutdown', async () => {
      sut.openStream();
      const waiting = sut.waitForChanges(60_000);
      await sut.onApplicationShutdown();
      await expect(waiting).resolves.toBeUndefined();
      expect(client.end).toHaveBeenCalled();
    });
  });

  it('records the lag of a sent entry from its instant, never below zero', () => {
    sut.sent({ occurredAt: new Date(Date.now() - 2000) } as HistoryEntry);
    sut.sent({ occurredAt: new Date(Date.now() + 60_000) } as HistoryEntry);
    const [first, second] = lag.observe.mock.calls.map((call) => call[0] as number);
    expect(first).toBeGreaterThanOrEqual(2);
    expect(first).toBeLessThan(3);
    expect(second).toBe(0);
  });
});
