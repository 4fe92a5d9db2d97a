import { get, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../context.js';
import { withDb } from '../dataset.js';
import { load, randomInt } from '../load.js';
import { since } from '../psql.js';
import { fixed, thousands, type Row } from '../table.js';
import { patchRequest } from './hot-paths.js';

/** The service's page size limit: the fewest round trips a consumer can make. */
const PAGE = 10_000;

interface Change {
  cursor: string;
  occurred_at: string;
}

/** The feed's own keyset query, hand-written: what PostgreSQL and `pg` alone take to read the same pages. */
async function readBySql(databaseUrl: string, count: number): Promise<number> {
  return withDb(databaseUrl, async (db) => {
    const started = process.hrtime.bigint();
    let position = [0, 0];
    for (let read = 0; read < count;) {
      const { rows } = await db.query(
        `SELECT feed_batch, id, user_id, segment_slug, operation, reason, actor, occurred_at FROM membership_history
         WHERE feed_batch IS NOT NULL AND (feed_batch, id) > ($1, $2) ORDER BY feed_batch, id LIMIT $3`,
        [...position, Math.min(PAGE, count - read)],
      );
      if (rows.length === 0) break;
      read += rows.length;
      position = [Number(rows.at(-1).feed_batch), Number(rows.at(-1).id)];
    }
    return since(started);
  });
}

/** 1 000 000 changes (250 000 with --quick) read from the start of the feed by GET /changes pages of 10 000, beside the same pages read by SQL. */
export async function feedRead(context: BenchContext): Promise<Row[]> {
  const count = context.quick ? 250_000 : 1_000_000;
  const baselineSeconds = await readBySql(context.databaseUrl, count);
  const started = process.hrtime.bigint();
  let read = 0;
  let after: string | undefined;
  while (read < count) {
    const query = new URLSearchParams({ limit: String(Math.min(PAGE, count - read)), ...(after ? { after } : {}) });
    const response = await fetch(`${context.api.url}/changes?${query}`, { headers: context.auth });
    if (!response.ok) throw new Error(`GET /changes answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { items: Change[]; next_cursor: string };
    if (page.items.length === 0) break;
    read += page.items.length;
    after = page.next_cursor;
  }
  const seconds = since(started);
  const rate = read / seconds;
  const baselineRate = read / baselineSeconds;
  return [
    {
      path: `GET /changes: ${thousands(count)} changes, pages of ${thousands(PAGE)}`,
      figure: `${thousands(rate)} changes/s (${fixed(seconds)} s)`,
      baseline: `${thousands(baselineRate)} changes/s, the same keyset pages by SQL through pg`,
      ratio: `${fixed(rate / baselineRate)}×`,
      target: '≥ 100 000 changes/s',
      pass: read === count && rate >= 100_000,
    },
  ];
}

/** The cursor of the newest change, as the service encodes cursors (base64url of the JSON [batch, id]), so the stream starts at the tail. */
async function tailCursor(databaseUrl: string): Promise<string> {
  return withDb(databaseUrl, async (db) => {
    const { rows } = await db.query(
      'SELECT feed_batch, id FROM membership_history WHERE feed_batch IS NOT NULL ORDER BY feed_batch DESC, id DESC LIMIT 1',
    );
    return Buffer.from(JSON.stringify([Number(rows[0].feed_batch), Number(rows[0].id)])).toString('base64url');
  });
}

/**
 * A stream from the tail while the PATCH load of the hot-path scenario runs: each change's delay from
 * its write (occurred_at, the transaction's time, so commit time is later: a conservative figure)
 * to its arrival at the consumer.
 */
export async function feedDelivery(context: BenchContext): Promise<Row[]> {
  const after = await tailCursor(context.databaseUrl);
  const url = new URL(`${context.api.url}/changes/stream?after=${after}`);
  const response = await new Promise<IncomingMessage>((resolve, reject) =>
    get({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers: context.auth }, resolve).on('error', reject),
  );
  if (response.statusCode !== 200) throw new Error(`GET /changes/stream answered ${response.statusCode}`);
  const delays: number[] = [];
  let buffer = '';
  response.on('data', (chunk: Buffer) => {
    const arrived = Date.now();
    buffer += chunk.toString();
    const events = buffer.split('\n\n');
    buffer = events.pop()!;
    for (const event of events) {
      const data = /^data: (.+)$/m.exec(event)?.[1];
      if (data) delays.push(arrived - Date.parse((JSON.parse(data) as Change).occurred_at));
    }
  });
  const result = await load({
    url: context.api.url,
    seconds: context.seconds,
    connections: context.connections,
    headers: context.auth,
    next: () => patchRequest(context, randomInt(context.size.users)),
  });
  // The last changes of the load arrive a moment after it ends.
  await sleep(1500);
  response.destroy();
  delays.sort((a, b) => a - b);
  const percentile = (p: number) => delays[Math.min(delays.length - 1, Math.floor((delays.length * p) / 100))] ?? Number.NaN;
  const clean = result.errors === 0 && result.non2xx === 0;
  return [
    {
      path: 'GET /changes/stream during the PATCH load',
      figure: `${thousands(delays.length)} changes streamed, delay from write p50 ${percentile(50)} ms, p99 ${percentile(99)} ms, max ${delays.at(-1)} ms`,
      baseline: `PATCH p99 ${result.p99} ms at ${thousands(result.rps)} req/s${clean ? '' : `, ${result.non2xx} non-2xx`}`,
      ratio: '—',
      target: 'p99 ≤ 1 000 ms',
      pass: clean && delays.length > 0 && percentile(99) <= 1000,
    },
  ];
}
