import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, eventually, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

interface Change {
  cursor: string;
  user_id: number;
  segment: string;
  operation: 'add' | 'remove';
  reason: string;
  actor: string;
}

interface Event {
  id: string;
  data: Change;
  at: number;
}

/** Parses the Server-Sent Events of `response` into `events` as they arrive. */
const collect = (response: IncomingMessage, events: Event[]) => {
  let buffer = '';
  response.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (id && data) events.push({ id, data: JSON.parse(data) as Change, at: Date.now() });
    }
  });
};

const SLUGS = ['FEED_A', 'FEED_B', 'FEED_C', 'FEED_D'];
const base64 = (text: string) => Buffer.from(text).toString('base64url');
const portOf = (app: NestFastifyApplication) => (app.getHttpServer().address() as AddressInfo).port;

/** A writer process: random membership changes against the given APIs until its time is up. */
const WRITER = `
const [apis, token, seconds, users] = [process.argv[2].split(','), process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const slugs = ${JSON.stringify(SLUGS)};
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const deadline = Date.now() + seconds * 1000;
let sent = 0;
const worker = async () => {
  while (Date.now() < deadline) {
    const add = pick(slugs);
    let remove = pick(slugs);
    if (remove === add) remove = slugs[(slugs.indexOf(add) + 1) % slugs.length];
    const response = await fetch(pick(apis) + '/users/' + (1 + Math.floor(Math.random() * users)) + '/segments', {
      method: 'PATCH', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      body: JSON.stringify({ add: [add], remove: [remove] }),
    });
    if (response.status !== 200) throw new Error('PATCH answered ' + response.status);
    await response.arrayBuffer();
    sent++;
  }
};
Promise.all(Array.from({ length: 8 }, worker)).then(() => process.send({ sent }), (error) => { console.error(error); process.exit(1); });
`;

describe('change feed', () => {
  let t: TestApp;
  let other: NestFastifyApplication;
  const page = async (after?: string, limit = 500) =>
    (
      await t
        .http()
        .get('/changes')
        .query(after ? { after, limit } : { limit })
        .expect(200)
    ).body as { items: Change[]; next_cursor: string | null };
  /** Every change after `after` up to now. */
  const drain = async (after?: string) => {
    const all: Change[] = [];
    let cursor = after;
    for (;;) {
      const { items, next_cursor } = await page(cursor);
      all.push(...items);
      if (items.length === 0) return { items: all, cursor: next_cursor ?? undefined };
      cursor = next_cursor!;
    }
  };

  beforeAll(async () => {
    t = await createTestApp({ RUN_WORKER_IN_API: true, RECONCILE_INTERVAL_MS: 300, JOB_BATCH_SIZE: 50 });
    for (const slug of SLUGS) await t.http().post('/segments').send({ slug }).expect(201);
    await t.app.listen(0, '127.0.0.1');
    other = await t.spawn({ FEED_MAX_STREAMS: 1 });
    await other.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  // A Citus cluster sharing two cores writes a few dozen requests a second: it writes longer.
  const WRITING_SECONDS = inject('citusNodes').length > 0 ? 10 : 4;

  it('serves every change of concurrent writers in several processes exactly once, replaying to the final memberships', async () => {
    const script = join(tmpdir(), `feed-writer-${process.pid}.mjs`);
    writeFileSync(script, WRITER);
    const apis = [`http://127.0.0.1:${portOf(t.app)}`, `http://127.0.0.1:${portOf(other)}`].join(',');
    const consumed: Change[] = [];
    let cursor: string | undefined;
    let writing = true;
    const consumer = (async () => {
      while (writing) {
        const { items, next_cursor } = await page(cursor, 200);
        consumed.push(...items);
        cursor = next_cursor ?? undefined;
        if (items.length === 0) await sleep(20);
      }
    })();
    // Rollouts run meanwhile too, their chunks racing the writers for the same users: automatic changes are in the feed like the others.
    let rolling = true;
    const rollouts = (async () => {
      for (let round = 0; rolling; round++) {
        await t
          .http()
          .patch('/segments/FEED_D')
          .send({ auto_percent: [50, 20, 80][round % 3] })
          .expect(200);
        await sleep(300);
      }
    })();
    const writers = Array.from(
      { length: 4 },
      () =>
        new Promise<number>((resolve, reject) => {
          const child = fork(script, [apis, BOOTSTRAP_TOKEN, String(WRITING_SECONDS), '300'], { stdio: 'inherit' });
          child.once('message', (message: { sent: number }) => resolve(message.sent));
          child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`writer exited with ${code}`))));
        }),
    );
    const sent = (await Promise.all(writers)).reduce((total, count) => total + count, 0);
    rolling = false;
    await rollouts;
    await eventually(async () => (await t.http().get('/segments/FEED_D').expect(200)).body.rollout.state === 'done');
    writing = false;
    await consumer;
    // The relay publishes each change shortly after its commit: read the rest once it has published them all.
    await eventually(
      async () =>
        (
          await t.db.query(
            `SELECT NOT EXISTS (SELECT 1 FROM membership_history WHERE feed_batch IS NULL)
                    AND (SELECT published_batch = stamped_batch FROM change_feed_relay) AS published`,
          )
        ).rows[0].published,
    );
    consumed.push(...(await drain(cursor)).items);

    // Enough writes to overlap each other, the consumer and the rollouts (a Citus cluster on two cores writes the fewest).
    expect(sent).toBeGreaterThan(50);
    const cursors = consumed.map((change) => change.cursor);
    expect(new Set(cursors).size, 'no change twice').toBe(cursors.length);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM membership_history');
    expect(consumed.length, 'no change missed').toBe(rows[0].n);
    expect(consumed.some((change) => change.reason === 'auto')).toBe(true);

    const replayed = new Set<string>();
    for (const change of consumed) {
      const key = `${change.user_id}:${change.segment}`;
      if (change.operation === 'add') {
        expect(replayed.has(key), `add of ${key} while a member`).toBe(false);
        replayed.add(key);
      } else {
        expect(replayed.delete(key), `removal of ${key} while not a member`).toBe(true);
      }
    }
    const memberships = await t.db.query(
      `SELECT m.user_id || ':' || s.slug AS key FROM memberships m JOIN segments s ON s.id = m.segment_id`,
    );
    expect([...replayed].sort()).toEqual(memberships.rows.map((row) => row.key).sort());

    // Resuming from any cursor gives exactly the rest.
    for (const index of [0, Math.floor(consumed.length / 3), consumed.length - 2]) {
      const rest = await drain(consumed[index]!.cursor);
      expect(rest.items.map((change) => change.cursor)).toEqual(cursors.slice(index + 1));
    }
  }, 60_000);

  it('refuses cursors it did not issue (400) and cursors behind retention (410)', async () => {
    const invalid = [
      'abc!',
      base64('["1"]'),
      base64('[1, 2, 3]'),
      base64('[-1]'),
      base64('[1, -1]'),
      base64('[1e21]'),
      base64('[1.5]'),
      base64('[]'),
    ];
    for (const cursor of invalid) {
      expectProblem(await t.http().get('/changes').query({ after: cursor }), 400, '/problems/validation-error');
    }
    const { items } = await page(undefined, 2);
    await t.db.query(`
      UPDATE change_feed_relay SET (horizon_batch, horizon_id) = (
        SELECT feed_batch, id FROM membership_history WHERE feed_batch IS NOT NULL ORDER BY feed_batch DESC, id DESC LIMIT 1)`);
    try {
      expectProblem(await t.http().get('/changes').query({ after: items[0]!.cursor }), 410, '/problems/cursor-expired');
      expectProblem(await t.http().get('/changes/stream').query({ after: items[0]!.cursor }), 410, '/problems/cursor-expired');
      // A cursor of the feed before the relay ([id], every entry in batch 0) is as old as the oldest batch.
      expectProblem(
        await t
          .http()
          .get('/changes')
          .query({ after: base64('[1]') }),
        410,
        '/problems/cursor-expired',
      );
    } finally {
      await t.db.query('UPDATE change_feed_relay SET horizon_batch = NULL, horizon_id = NULL');
    }
  });

  it('streams a change committed on one instance from another instance within a second, resumable with Last-Event-ID', async () => {
    const { cursor } = await drain();
    const events: Event[] = [];
    const open = (lastEventId?: string) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        get(
          {
            host: '127.0.0.1',
            port: portOf(other),
            path: '/changes/stream',
            headers: {
              authorization: `Bearer ${BOOTSTRAP_TOKEN}`,
              accept: 'text/event-stream',
              ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
            },
          },
          resolve,
        ).on('error', reject);
      });
    const response = await open(cursor);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    collect(response, events);
    // One stream is this instance's limit: a second is refused with 503.
    const refused = await new Promise<IncomingMessage>((resolve) =>
      get(
        { host: '127.0.0.1', port: portOf(other), path: '/changes/stream', headers: { authorization: `Bearer ${BOOTSTRAP_TOKEN}` } },
        resolve,
      ),
    );
    expect(refused.statusCode).toBe(503);
    refused.resume();

    const committed = Date.now();
    await t
      .http()
      .patch('/users/4242/segments')
      .send({ add: ['FEED_A'] })
      .expect(200);
    await eventually(async () => events.some((event) => event.data.user_id === 4242), 2000);
    const event = events.find((candidate) => candidate.data.user_id === 4242)!;
    expect(event.at - committed).toBeLessThan(1000);
    expect(event.id).toBe(event.data.cursor);
    response.destroy();

    await t
      .http()
      .patch('/users/4243/segments')
      .send({ add: ['FEED_B'] })
      .expect(200);
    // The closed stream gives its slot back, so the limit of one admits the resumed stream.
    await eventually(
      async () =>
        (await request(other.getHttpServer()).get('/metrics').set('authorization', `Bearer ${BOOTSTRAP_TOKEN}`)).text.includes(
          'change_feed_streams{service="api"} 0',
        ),
      3000,
    );
    const resumed = await open(event.id);
    expect(resumed.statusCode).toBe(200);
    const replayed: Event[] = [];
    collect(resumed, replayed);
    await eventually(async () => replayed.some((item) => item.data.user_id === 4243), 2000);
    resumed.destroy();
    // Resuming starts right after the last event seen: nothing repeated, nothing skipped.
    const { items } = await drain(cursor);
    const after = items.slice(items.findIndex((item) => item.cursor === event.id) + 1);
    expect(replayed.map((item) => item.data)).toEqual(after.slice(0, replayed.length));
    expect(after.find((item) => item.user_id === 4243)).toMatchObject({ segment: 'FEED_B', operation: 'add' });
  });
});
