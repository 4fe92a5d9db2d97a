import { get, type ClientRequest } from 'node:http';
import { sleep } from '../support/private-servers.js';

export interface FeedChange {
  cursor: string;
  user_id: number;
  segment: string;
  operation: 'add' | 'remove';
}

/**
 * A consumer of the change feed that lives through every fault: it pages GET /changes, or
 * follows GET /changes/stream and reconnects with Last-Event-ID when the stream ends, always
 * against whichever API instance is picked, retrying whatever fails.
 */
export class FeedFollower {
  readonly changes: FeedChange[] = [];
  reconnects = 0;
  private running = false;
  private loop?: Promise<void>;
  private request?: ClientRequest;

  constructor(
    private readonly mode: 'pages' | 'stream',
    private readonly apis: () => string[],
    private readonly token: string,
  ) {}

  get cursor(): string | undefined {
    return this.changes.at(-1)?.cursor;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.request?.destroy();
    await this.loop;
  }

  private pick(): string {
    const apis = this.apis();
    return apis[Math.floor(Math.random() * apis.length)]!;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.mode === 'pages') await this.page();
        else await this.follow();
      } catch {
        // An outage or a killed instance: try again, maybe elsewhere.
      }
      if (this.running) await sleep(this.mode === 'pages' ? 100 : 500);
    }
  }

  private async page(): Promise<void> {
    const query = new URLSearchParams({ limit: '1000', ...(this.cursor ? { after: this.cursor } : {}) });
    const response = await fetch(`${this.pick()}/changes?${query}`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`GET /changes answered ${response.status}`);
    const { items } = (await response.json()) as { items: FeedChange[] };
    this.changes.push(...items);
  }

  /** One stream until it ends or fails. */
  private follow(): Promise<void> {
    const url = new URL(`${this.pick()}/changes/stream`);
    return new Promise<void>((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
      if (this.cursor) headers['last-event-id'] = this.cursor;
      this.request = get({ host: url.hostname, port: url.port, path: url.pathname, headers }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`GET /changes/stream answered ${response.statusCode}`));
          return;
        }
        let buffer = '';
        response.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const events = buffer.split('\n\n');
          buffer = events.pop()!;
          for (const event of events) {
            const data = /^data: (.+)$/m.exec(event)?.[1];
            if (data) this.changes.push(JSON.parse(data) as FeedChange);
          }
        });
        response.on('close', () => {
          this.reconnects++;
          resolve();
        });
      });
      this.request.on('error', reject);
    });
  }
}
