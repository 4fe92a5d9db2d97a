import { HistoryPartitionsService, HistorySubscriber, partitionName } from '#libs/history';
import type { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { factories } from './support/factories.js';
import { expectProblem } from './support/problems.js';

interface Row {
  user_id: number;
  segment_slug: string;
  operation: string;
  reason: string;
  occurred_at: Date;
}

describe('membership history', () => {
  let t: TestApp;
  const patch = (userId: number, body: object) => t.http().patch(`/users/${userId}/segments`).send(body).expect(200);
  const historyOf = async (userId: number): Promise<Row[]> =>
    (
      await t.db.query(
        `SELECT user_id::int, segment_slug, operation, reason, occurred_at FROM membership_history WHERE user_id = $1 ORDER BY occurred_at, id`,
        [userId],
      )
    ).rows;
  const brief = (rows: Row[]) => rows.map((row) => `${row.operation} ${row.segment_slug} ${row.reason}`);

  beforeAll(async () => {
    t = await createTestApp();
    for (const slug of ['VOICE', 'DISCOUNT_30', 'DISCOUNT_50']) await t.http().post('/segments').send({ slug }).expect(201);
  });
  afterAll(async () => t?.close());

  it('writes one entry per real change and none for no-ops', async () => {
    await patch(100, { add: ['VOICE', 'DISCOUNT_30'] });
    await patch(100, { add: ['VOICE'] });
    await patch(100, { add: [{ slug: 'VOICE', ttl_seconds: 600 }] });
    await patch(100, { remove: ['DISCOUNT_50'] });
    await patch(100, { remove: ['DISCOUNT_30'], add: ['DISCOUNT_50'] });
    expect(brief(await historyOf(100))).toEqual([
      'add VOICE manual',
      'add DISCOUNT_30 manual',
      'remove DISCOUNT_30 manual',
      'add DISCOUNT_50 manual',
    ]);
  });

  it('writes nothing for a rejected request', async () => {
    await t
      .http()
      .patch('/users/101/segments')
      .send({ add: ['VOICE', 'NOPE'] })
      .expect(422);
    expect(await historyOf(101)).toEqual([]);
  });

  it('writes nothing when the transaction rolls back, and refuses to record outside a transaction', async () => {
    const dataSource = t.app.get(DataSource);
    const subscriber = t.app.get(HistorySubscriber);
    const change = { userId: 102, segmentId: 1, slug: 'VOICE', operation: 'add', reason: 'manual', actor: 'test' } as const;
    await expect(
      dataSource.transaction(async (manager) => {
        subscriber.record(manager, [change]);
        await manager.query('SELECT 1/0');
      }),
    ).rejects.toThrow(/division by zero/);
    await expect(
      dataSource.transaction(async (manager) => {
        subscriber.record(manager, [change]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(() => subscriber.record(dataSource.manager, [change])).toThrow(/inside their transaction/);
    expect(await historyOf(102)).toEqual([]);
  });

  it('logs the removal of an expired membership at its expiry instant before a re-add', async () => {
    await patch(103, { add: [{ slug: 'VOICE', ttl_seconds: 1 }] });
    await factories(t.db).elapse(103, 2);
    const { rows } = await t.db.query('SELECT expires_at FROM memberships WHERE user_id = 103');
    await patch(103, { add: ['VOICE'] });
    const history = await historyOf(103);
    expect(brief(history)).toEqual(['add VOICE manual', 'remove VOICE ttl', 'add VOICE manual']);
    expect(history[1]!.occurred_at).toEqual(rows[0].expires_at);
  });

  it('writes exactly one entry for 50 parallel identical adds', async () => {
    await Promise.all(
      Array.from({ length: 50 }, () =>
        t
          .http()
          .patch('/users/104/segments')
          .send({ add: ['VOICE'] }),
      ),
    );
    expect(brief(await historyOf(104))).toEqual(['add VOICE manual']);
  });

  it('keeps an order that replays to the current segments under concurrent requests', async () => {
    const ops = Array.from({ length: 60 }, (_, index) => {
      const slug = ['VOICE', 'DISCOUNT_30', 'DISCOUNT_50'][index % 3]!;
      return index % 2 === 0 ? { add: [slug] } : { remove: [slug] };
    });
    const responses = await Promise.all(ops.map((op) => t.http().patch('/users/105/segments').send(op)));
    expect(responses.map((response) => response.status)).toEqual(ops.map(() => 200));
    const replayed = new Set<string>();
    for (const row of await historyOf(105)) {
      if (row.operation === 'add') {
        expect(replayed.has(row.segment_slug)).toBe(false);
        replayed.add(row.segment_slug);
      } else {
        expect(replayed.delete(row.segment_slug)).toBe(true);
      }
    }
    const current = (await t.http().get('/users/105/segments').expect(200)).body.segments.map((s: { slug: string }) => s.slug);
    expect([...replayed].sort()).toEqual(current);
  });

  it('keeps the slug a deleted segment had', async () => {
    await t.http().post('/segments').send({ slug: 'RENAMED_LATER' }).expect(201);
    await patch(106, { add: ['RENAMED_LATER'] });
    await t.http().delete('/segments/RENAMED_LATER').expect(204);
    await t.http().post('/segments').send({ slug: 'RENAMED_LATER' }).expect(201);
    await patch(106, { add: ['RENAMED_LATER'] });
    const { rows } = await t.db.query(`SELECT DISTINCT segment_id FROM membership_history WHERE user_id = 106`);
    expect(rows).toHaveLength(2);
  });

  describe('GET /users/{user_id}/history', () => {
    beforeAll(async () => {
      for (let index = 0; index < 5; index++) await patch(200, index % 2 === 0 ? { add: ['VOICE'] } : { remove: ['VOICE'] });
    });

    it('lists entries newest first with cursor pagination', async () => {
      const all = (await t.http().get('/users/200/history?limit=100').expect(200)).body;
      expect(all.items.map((entry: { operation: string }) => entry.operation)).toEqual(['add', 'remove', 'add', 'remove', 'add']);
      expect(all.items[0]).toEqual({
        user_id: 200,
        segment: 'VOICE',
        operation: 'add',
        reason: 'manual',
        actor: 'bootstrap',
        occurred_at: expect.any(String),
      });
      expect(all.next_cursor).toBeNull();

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Response = await t
          .http()
          .get('/users/200/history')
          .query(cursor ? { limit: 2, cursor } : { limit: 2 })
          .expect(200);
        seen.push(...res.body.items.map((entry: { occurred_at: string }) => entry.occurred_at));
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(all.items.map((entry: { occurred_at: string }) => entry.occurred_at));
    });

    it('bounds the time range with from (inclusive) and to (exclusive)', async () => {
      const all = (await t.http().get('/users/200/history').expect(200)).body.items;
      const middle = all[2].occurred_at;
      const after = (await t.http().get('/users/200/history').query({ from: middle }).expect(200)).body.items;
      const before = (await t.http().get('/users/200/history').query({ to: middle }).expect(200)).body.items;
      expect(after.length + before.length).toBe(all.length);
      expect(after.at(-1).occurred_at).toBe(middle);
    });

    it('answers an empty page for a user without history', async () => {
      expect((await t.http().get('/users/999999/history').expect(200)).body).toEqual({ items: [], next_cursor: null });
    });

    it.each(['from=yesterday', 'to=2026-13-01T00:00:00Z', 'limit=0', 'cursor=abc', 'cursor=WyJ4fDEiXQ', 'colour=red'])(
      'rejects %s',
      async (query) => {
        expectProblem(await t.http().get(`/users/200/history?${query}`), 400, '/problems/validation-error');
      },
    );
  });

  describe('partitions', () => {
    /** The partition a row is in (on Citus, tableoid names a shard of it: partition_<shard id>). */
    const tableOf = (tableoid: string) => tableoid.replace(/_\d+$/, '');
    const partitionOf = async (occurredAt: string) => {
      await t.db.query(
        `INSERT INTO membership_history (user_id, segment_id, segment_slug, operation, reason, occurred_at) VALUES (300, 1, 'P', 'add', 'manual', $1)`,
        [occurredAt],
      );
      const { rows } = await t.db.query(
        `SELECT tableoid::regclass::text AS partition FROM membership_history WHERE user_id = 300 AND occurred_at = $1`,
        [occurredAt],
      );
      return tableOf(rows[0].partition as string);
    };

    it('has the partitions from last month to three months ahead after start', async () => {
      const now = new Date();
      for (let offset = -1; offset <= 3; offset++) {
        const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
        const { rows } = await t.db.query('SELECT to_regclass($1) IS NOT NULL AS exists', [partitionName(month)]);
        expect(rows[0].exists, partitionName(month)).toBe(true);
      }
    });

    it('creates partitions for new months without manual steps, moving rows that landed in the default partition', async () => {
      expect(await partitionOf('2031-02-10T12:00:00Z')).toBe('membership_history_default');
      await t.app.get(HistoryPartitionsService).maintain(new Date('2031-01-15T00:00:00Z'));
      const { rows } = await t.db.query(
        `SELECT tableoid::regclass::text AS partition FROM membership_history WHERE occurred_at = '2031-02-10T12:00:00Z'`,
      );
      expect(rows.map((row) => tableOf(row.partition as string))).toEqual(['membership_history_y2031m02']);
      expect(await partitionOf('2031-04-30T23:59:59.999Z')).toBe('membership_history_y2031m04');
      expect(await partitionOf('2031-05-01T00:00:00Z')).toBe('membership_history_default');
    });

    it('drops partitions past the retention', async () => {
      const partitions = t.app.get(HistoryPartitionsService);
      await partitions.ensurePartition(new Date('2020-03-01T00:00:00Z'));
      await partitionOf('2020-03-05T00:00:00Z');
      expect(await partitions.dropBefore(new Date('2020-04-01T00:00:00Z'))).toEqual(['membership_history_y2020m03']);
      const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM membership_history WHERE occurred_at = '2020-03-05T00:00:00Z'`);
      expect(rows[0].n).toBe(0);
    });
  });
});
