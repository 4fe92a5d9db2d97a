import { Injectable } from '@nestjs/common';

type Refresh = () => Promise<void>;

/**
 * Gauges that mirror shared state (database pool, queue, segments) are refreshed when
 * /metrics is scraped, by the refreshers the modules registered here: each application
 * refreshes from its own connections.
 */
@Injectable()
export class MetricsRefresh {
  private readonly refreshers: Refresh[] = [];

  register(refresh: Refresh): void {
    this.refreshers.push(refresh);
  }

  /** Runs every refresher; one that fails (e.g. Redis down) leaves its gauges as they were. */
  async refreshAll(): Promise<void> {
    await Promise.allSettled(this.refreshers.map((refresh) => refresh()));
  }
}
