import { expect } from 'vitest';
import { sleep } from '../support/private-servers.js';

/** What the suite knows of one membership from acknowledged requests: in, out, or unknown (a request whose outcome it never heard). */
export type Expectation = 'in' | 'out' | 'unknown';

export interface LoadStats {
  requests: number;
  acknowledged: number;
  /** Failed requests by status (`network` when there was no HTTP answer, `timeout` when none came in time). */
  failed: Record<string, number>;
  /** Slowest failed request, ms: failures during an outage must be fast. */
  slowestFailureMs: number;
  /** Problem types of the 5xx answers, with whether each carried Retry-After. */
  serverProblems: Set<string>;
}

export interface LoadOptions {
  apis: () => string[];
  users: number[];
  slugs: string[];
  concurrency: number;
  headers: Record<string, string>;
  /** What the suite knows of each `user:slug`, shared across runs. */
  expectations: Map<string, Expectation>;
}

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Mixed membership changes (one add and one removal of random segments per request) against
 * the API processes, round robin, while a fault happens. Each worker of the load owns its
 * users, one request in flight per user, so the acknowledged requests of a user are in a known
 * order and the last acknowledged change of each membership is what the database must hold.
 */
export class Load {
  private running = false;
  private done?: Promise<void>;
  private next = 0;
  readonly stats: LoadStats = { requests: 0, acknowledged: 0, failed: {}, slowestFailureMs: 0, serverProblems: new Set() };

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    this.running = true;
    const { concurrency, users } = this.options;
    this.done = Promise.all(
      Array.from({ length: concurrency }, (_, worker) => this.work(users.filter((_, index) => index % concurrency === worker))),
    ).then(() => undefined);
  }

  async stop(): Promise<LoadStats> {
    this.running = false;
    await this.done;
    return this.stats;
  }

  private async work(users: number[]): Promise<void> {
    const { slugs, expectations } = this.options;
    while (this.running) {
      const userId = users[Math.floor(Math.random() * users.length)]!;
      const add = slugs[Math.floor(Math.random() * slugs.length)]!;
      let remove = slugs[Math.floor(Math.random() * slugs.length)]!;
      if (remove === add) remove = slugs[(slugs.indexOf(add) + 1) % slugs.length]!;
      const outcome = await this.send(`/users/${userId}/segments`, { add: [add], remove: [remove] });
      const set = (slug: string, state: Expectation) => expectations.set(`${userId}:${slug}`, state);
      if (outcome === 'acknowledged') {
        set(add, 'in');
        set(remove, 'out');
      } else if (outcome === 'unknown') {
        set(add, 'unknown');
        set(remove, 'unknown');
      }
    }
  }

  /** `rejected`: a 4xx, which changes nothing; `unknown`: no answer or a 5xx (the change may or may not have committed). */
  private async send(path: string, body: object): Promise<'acknowledged' | 'rejected' | 'unknown'> {
    const apis = this.options.apis();
    const base = apis[this.next++ % apis.length]!;
    const started = Date.now();
    this.stats.requests++;
    const fail = (key: string) => {
      this.stats.failed[key] = (this.stats.failed[key] ?? 0) + 1;
      this.stats.slowestFailureMs = Math.max(this.stats.slowestFailureMs, Date.now() - started);
    };
    try {
      const response = await fetch(`${base}${path}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', ...this.options.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.status >= 500) {
        const type = (JSON.parse(text) as { type?: string }).type;
        this.stats.serverProblems.add(`${response.status} ${type}${response.headers.has('retry-after') ? ' (Retry-After)' : ''}`);
      }
      if (response.ok) {
        this.stats.acknowledged++;
        return 'acknowledged';
      }
      fail(String(response.status));
      return response.status < 500 ? 'rejected' : 'unknown';
    } catch (error) {
      fail((error as Error).name === 'TimeoutError' ? 'timeout' : 'network');
      // A refused connection cannot have changed anything; everything else might have. Pace retries against a dead process.
      await sleep(20);
      return 'unknown';
    }
  }
}

/** The 5xx answers the README documents for a write during a fault: a 503 saying PostgreSQL is away, with Retry-After. */
const DOCUMENTED_SERVER_ERRORS = new Set(['503 /problems/database-unavailable (Retry-After)']);

/** Fails on any 5xx answer but a documented 503 (a 500, a 502, a 503 of another kind or without Retry-After). */
export function expectOnlyDocumentedServerErrors(stats: LoadStats): void {
  const serverStatuses = Object.keys(stats.failed).filter((status) => /^5\d\d$/.test(status) && status !== '503');
  expect(serverStatuses, 'server errors other than 503').toEqual([]);
  expect(
    [...stats.serverProblems].filter((problem) => !DOCUMENTED_SERVER_ERRORS.has(problem)),
    'undocumented 5xx answers',
  ).toEqual([]);
}
