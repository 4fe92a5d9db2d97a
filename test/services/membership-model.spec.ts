import fc from 'fast-check';
import { DomainError, NotFoundError, RepeatedSlugsError, RepeatedUserIdsError, UnknownSegmentsError, ConflictError } from '#libs/common';
import { MembershipExpiryService } from '#libs/memberships';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MembershipModel, type ModelChange } from '../../libs/memberships/src/membership-model.js';
import { createTestApp, eventually, type TestApp } from '../support/app.js';
import { factories } from '../support/factories.js';

/**
 * The model of the membership rules (libs/memberships/src/membership-model.ts) as the oracle
 * of the real service: random sequences of operations go to the API over HTTP and to the
 * model, and after every one the answer, every user's segments, and at the end every user's
 * history (per segment, in order) must be what the model says. Each run has its own users and
 * segments (and deletes its segments at the end, so later runs' users are not assigned them).
 *
 * Time: the expiry sweep is never scheduled during the suite (a long interval); an `advance`
 * moves every expiry and history instant of the run's users into the past (as if that much
 * time had passed for them) and the model's clock forward, and `sweep` runs the expiry sweep.
 * Time to live is in hours and an advance in half hours, so the seconds the suite itself takes
 * never decide an expiry.
 */

const ACTOR = 'bootstrap';
const HOUR = 3600;
const NAMES = ['A', 'B', 'C'] as const;
/** Never created: a change naming it is rejected. */
const UNKNOWN = 'NOPE';
const USERS = [1, 2, 3] as const;
const RUNS = Number(process.env.MODEL_RUNS ?? 20);

type Name = (typeof NAMES)[number] | typeof UNKNOWN;
type Op =
  | { kind: 'create'; name: Name; percent: number | null }
  | { kind: 'percent'; name: Name; percent: number | null }
  | { kind: 'delete'; name: Name }
  | { kind: 'register'; user: number }
  | { kind: 'change'; user: number; add: { name: Name; ttl?: number }[]; remove: Name[]; ttl?: number }
  | { kind: 'bulk'; name: Name; add: number[]; remove: number[]; ttl?: number }
  | { kind: 'advance'; seconds: number }
  | { kind: 'sweep' };

const name = fc.constantFrom<Name>(...NAMES);
const listedName = fc.oneof({ arbitrary: name, weight: 9 }, { arbitrary: fc.constant<Name>(UNKNOWN), weight: 1 });
const user = fc.constantFrom(...USERS);
const ttl = fc.option(fc.constantFrom(HOUR, 2 * HOUR), { nil: undefined, freq: 3 });
const percent = fc.option(fc.constantFrom(0, 10, 33.33, 50, 90, 100), { nil: null, freq: 5 });

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), name, percent }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('percent' as const), name, percent }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), name }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('register' as const), user }), weight: 1 },
  {
    // Mostly valid changes (distinct known slugs, none both added and removed)…
    arbitrary: fc
      .record(
        {
          kind: fc.constant('change' as const),
          user,
          add: fc.uniqueArray(fc.record({ name, ttl }, { requiredKeys: ['name'] }), { maxLength: 3, selector: (item) => item.name }),
          remove: fc.uniqueArray(name, { maxLength: 2 }),
          ttl,
        },
        { requiredKeys: ['kind', 'user', 'add', 'remove'] },
      )
      .map((change) => ({ ...change, remove: change.remove.filter((removed) => !change.add.some((item) => item.name === removed)) })),
    weight: 6,
  },
  {
    // … and any lists at all: repeated slugs, unknown ones and a slug both added and removed occur, and must be rejected whole.
    arbitrary: fc.record(
      {
        kind: fc.constant('change' as const),
        user,
        add: fc.array(fc.record({ name: listedName, ttl }, { requiredKeys: ['name'] }), { maxLength: 3 }),
        remove: fc.array(listedName, { maxLength: 2 }),
        ttl,
      },
      { requiredKeys: ['kind', 'user', 'add', 'remove'] },
    ),
    weight: 2,
  },
  {
    arbitrary: fc.record(
      {
        kind: fc.constant('bulk' as const),
        name: listedName,
        add: fc.uniqueArray(user, { maxLength: 3 }),
        remove: fc.array(user, { maxLength: 2 }),
        ttl,
      },
      { requiredKeys: ['kind', 'name', 'add', 'remove'] },
    ),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.constantFrom(HOUR / 2, HOUR, 2 * HOUR, 3 * HOUR) }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'sweep' as const }), weight: 1 },
);

/** What the API answered: status and body. */
interface Answer {
  status: number;
  body: { errors?: { field: string }[]; [key: string]: unknown };
}

/** The status and the named fields an API answer to a rejected request has, for the model's domain error. */
function expectedRejection(error: DomainError): { status: number; fields?: string[] } {
  if (error instanceof UnknownSegmentsError) return { status: 422, fields: error.slugs.map((item) => `${item.list}[${item.index}]`) };
  if (error instanceof RepeatedSlugsError) return { status: 400, fields: error.slugs.map((item) => `${item.list}[${item.index}]`) };
  if (error instanceof RepeatedUserIdsError) return { status: 400, fields: error.userIds.map((item) => `remove[${item.index}]`) };
  if (error instanceof NotFoundError) return { status: 404 };
  if (error instanceof ConflictError) return { status: 409 };
  throw error;
}

describe('the membership model as the oracle of the service (random operation sequences over HTTP)', () => {
  let t: TestApp;
  let run = 0;
  /** What the runs exercised (operation and outcome), so a generator that stopped reaching a case fails the suite. */
  const exercised = new Set<string>();

  beforeAll(async () => {
    t = await createTestApp({
      RUN_WORKER_IN_API: true,
      EXPIRY_SWEEP_INTERVAL_MS: 24 * 3_600_000,
      RECONCILE_INTERVAL_MS: 500,
      JOB_BATCH_SIZE: 3,
    });
  });
  afterAll(async () => t?.close());

  /** One run: fresh users and slugs, every operation applied to both, compared after each and at the end. */
  async function check(ops: Op[]): Promise<void> {
    run++;
    const model = new MembershipModel();
    const slugOf = (n: Name) => (n === UNKNOWN ? UNKNOWN : `R${run}_${n}`);
    const idOf = (n: number) => 1_000 * run + n;
    const users = USERS.map(idOf);
    const make = factories(t.db);
    const segmentId = async (slug: string) =>
      (await t.db.query<{ id: number }>('SELECT id FROM segments WHERE slug = $1 AND deleted_at IS NULL', [slug])).rows[0]!.id;
    const rolloutDone = (slug: string) =>
      eventually(
        async () => (await t.http().get(`/segments/${slug}`).expect(200)).body.rollout?.state === 'done',
        20_000,
        `rollout of ${slug}`,
      );
    const purged = (id: number) =>
      eventually(
        async () => (await t.db.query('SELECT 1 FROM segments WHERE id = $1 AND purged_at IS NOT NULL', [id])).rowCount === 1,
        20_000,
        `purge of segment ${id}`,
      );

    /** Applies `expect` to the model: its answer, or its domain error. */
    const modelDoes = <T>(action: () => T): { ok: T } | { error: DomainError } => {
      try {
        return { ok: action() };
      } catch (error) {
        if (error instanceof DomainError) return { error };
        throw error;
      }
    };
    const sameOutcome = <T>(answer: Answer, expected: { ok: T } | { error: DomainError }, okStatus: number[], what: string) => {
      exercised.add(`${what.match(/"kind":"(\w+)"/)![1]} ${'error' in expected ? expected.error.name : 'ok'}`);
      if ('error' in expected) {
        const rejection = expectedRejection(expected.error);
        expect(answer.status, what).toBe(rejection.status);
        if (rejection.fields)
          expect(
            answer.body.errors?.map((item) => item.field),
            what,
          ).toEqual(rejection.fields);
      } else {
        expect(okStatus, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`).toContain(answer.status);
      }
    };

    const apply = async (step: Op): Promise<void> => {
      const what = JSON.stringify(step);
      switch (step.kind) {
        case 'create': {
          const slug = slugOf(step.name);
          const answer = await t
            .http()
            .post('/segments')
            .send({ slug, ...(step.percent === null ? {} : { auto_percent: step.percent }) });
          if (answer.status === 201) {
            if (step.percent !== null) await rolloutDone(slug);
            model.createSegment(slug, { autoPercent: step.percent, id: await segmentId(slug) });
            exercised.add('create ok');
          } else {
            sameOutcome(
              answer,
              modelDoes(() => model.createSegment(slug, { autoPercent: step.percent, id: -1 })),
              [201],
              what,
            );
          }
          return;
        }
        case 'percent': {
          const slug = slugOf(step.name);
          const answer = await t.http().patch(`/segments/${slug}`).send({ auto_percent: step.percent });
          if (answer.status === 200) await rolloutDone(slug);
          sameOutcome(
            answer,
            modelDoes(() => model.setAutoPercent(slug, step.percent)),
            [200],
            what,
          );
          return;
        }
        case 'delete': {
          const slug = slugOf(step.name);
          const id = model.activeSegment(slug)?.id;
          const answer = await t.http().delete(`/segments/${slug}`);
          if (answer.status === 204) await purged(id!);
          sameOutcome(
            answer,
            modelDoes(() => model.deleteSegment(slug, ACTOR)),
            [204],
            what,
          );
          return;
        }
        case 'register': {
          const id = idOf(step.user);
          const answer = await t.http().post('/users').send({ user_id: id });
          expect(answer.status, what).toBe(model.registerUser(id) ? 201 : 200);
          return;
        }
        case 'change': {
          const id = idOf(step.user);
          const change: ModelChange = {
            add: step.add.map((item) => ({ slug: slugOf(item.name), ...(item.ttl === undefined ? {} : { ttlMs: item.ttl * 1000 }) })),
            remove: step.remove.map(slugOf),
            ...(step.ttl === undefined ? {} : { ttlMs: step.ttl * 1000 }),
          };
          const body = {
            add: step.add.map((item) => (item.ttl === undefined ? slugOf(item.name) : { slug: slugOf(item.name), ttl_seconds: item.ttl })),
            remove: change.remove,
            ...(step.ttl === undefined ? {} : { ttl_seconds: step.ttl }),
          };
          for (const item of change.add) if (model.lapsed(id, item.slug)) exercised.add('change re-adds a lapsed membership');
          for (const slug of change.remove) if (model.lapsed(id, slug)) exercised.add('change removes a lapsed membership');
          const answer = await t.http().patch(`/users/${id}/segments`).send(body);
          const expected = modelDoes(() => model.changeUserSegments(id, change, ACTOR));
          sameOutcome(answer, expected, [200], what);
          if ('ok' in expected)
            expect({ added: answer.body.added, removed: answer.body.removed }, what).toEqual({
              added: expected.ok.added,
              removed: expected.ok.removed,
            });
          return;
        }
        case 'bulk': {
          const slug = slugOf(step.name);
          const add = step.add.map((n) => idOf(n));
          const remove = step.remove.map((n) => idOf(n));
          if (add.length + remove.length === 0) return;
          const answer = await t
            .http()
            .post(`/segments/${slug}/members`)
            .send({ add, remove, ...(step.ttl === undefined ? {} : { ttl_seconds: step.ttl }) });
          const expected = modelDoes(() =>
            model.changeSegmentMembers(slug, { add, remove, ...(step.ttl === undefined ? {} : { ttlMs: step.ttl * 1000 }) }, ACTOR),
          );
          sameOutcome(answer, expected, [200], what);
          if ('ok' in expected) expect(answer.body, what).toEqual(expected.ok);
          return;
        }
        case 'advance':
          for (const id of users) await make.elapse(id, step.seconds);
          model.advance(step.seconds * 1000);
          return;
        case 'sweep': {
          const removed = model.sweep();
          expect(await t.app.get(MembershipExpiryService).sweep(), what).toBe(removed);
          if (removed > 0) exercised.add('sweep removed');
          return;
        }
      }
    };

    const compareReads = async (after: string) => {
      for (const id of users) {
        const { body } = await t.http().get(`/users/${id}/segments`).expect(200);
        const actual = (body.segments as { slug: string; source: string; expires_at: string | null }[]).map((segment) => ({
          slug: segment.slug,
          source: segment.source,
          // How far ahead of now it expires, in the model's terms (the suite's own seconds are noise within a minute).
          expiresIn: segment.expires_at === null ? null : Math.round((Date.parse(segment.expires_at) - Date.now()) / 60_000),
        }));
        const expected = model.userSegments(id).map((segment) => ({
          slug: segment.slug,
          source: segment.source,
          expiresIn: segment.expiresAt === null ? null : Math.round((segment.expiresAt - model.now) / 60_000),
        }));
        expect(actual, `segments of user ${id} after ${after}`).toEqual(expected);
      }
    };

    const compareHistory = async () => {
      for (const id of users) {
        const { body } = await t.http().get(`/users/${id}/history?limit=1000`).expect(200);
        const perPair = (entries: { segment: string; operation: string; reason: string; actor: string }[]) => {
          const pairs = new Map<string, string[]>();
          for (const entry of entries) {
            const list = pairs.get(entry.segment) ?? [];
            list.push(`${entry.operation} ${entry.reason} ${entry.actor}`);
            pairs.set(entry.segment, list);
          }
          return Object.fromEntries([...pairs].sort(([a], [b]) => (a < b ? -1 : 1)));
        };
        // Newest first from the API; per segment in the order the changes happened.
        const actual = perPair([...(body.items as { segment: string; operation: string; reason: string; actor: string }[])].reverse());
        expect(actual, `history of user ${id}`).toEqual(perPair(model.userHistory(id).map((entry) => ({ ...entry, segment: entry.slug }))));
      }
    };

    try {
      for (const [index, step] of ops.entries()) {
        await apply(step);
        await compareReads(`step ${index} ${JSON.stringify(step)}`);
      }
      await compareHistory();
      const reasons = new Set(users.flatMap((id) => model.userHistory(id).map((entry) => `${entry.operation} ${entry.reason}`)));
      for (const reason of reasons) exercised.add(`history ${reason}`);
    } finally {
      // Later runs' users must not be assigned this run's automatic segments.
      for (const n of NAMES) {
        const slug = slugOf(n);
        const segment = model.activeSegment(slug);
        if ((await t.http().delete(`/segments/${slug}`)).status === 204 && segment) await purged(segment.id);
      }
    }
  }

  it('agrees with the model on the lapsed-membership paths: re-add, removal, a rollout over one, the sweep', async () => {
    await check([
      { kind: 'create', name: 'A', percent: null },
      { kind: 'create', name: 'B', percent: 100 },
      { kind: 'change', user: 1, add: [{ name: 'A', ttl: HOUR }], remove: [] },
      { kind: 'change', user: 2, add: [{ name: 'A', ttl: HOUR }], remove: [] },
      { kind: 'change', user: 3, add: [{ name: 'B', ttl: HOUR }], remove: [] },
      { kind: 'advance', seconds: 2 * HOUR },
      { kind: 'change', user: 1, add: [{ name: 'A' }], remove: [] },
      { kind: 'change', user: 2, add: [], remove: ['A'] },
      // User 3's lapsed manual membership of B is still stored: the rollout leaves the pair alone.
      { kind: 'percent', name: 'B', percent: 100 },
      { kind: 'sweep' },
      { kind: 'percent', name: 'B', percent: 0 },
      { kind: 'bulk', name: 'A', add: [3], remove: [1], ttl: HOUR },
      { kind: 'delete', name: 'A' },
    ]);
  });

  it('agrees with the model on answers, reads and per-segment history', async () => {
    await fc.assert(
      // Each run starts with two segments (manual or automatic), then up to 12 random operations, then a sweep.
      fc.asyncProperty(
        fc.tuple(
          fc.record({ kind: fc.constant('create' as const), name: fc.constant<Name>('A'), percent }),
          fc.record({ kind: fc.constant('create' as const), name: fc.constant<Name>('B'), percent }),
        ),
        fc.array(op, { minLength: 3, maxLength: 12, size: 'max' }),
        (first, ops) => check([...first, ...ops, { kind: 'sweep' }]),
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
    // Every kind of operation succeeded and was rejected as it can be, and every kind of history entry was compared.
    expect([...exercised].sort()).toEqual(
      expect.arrayContaining([
        'bulk NotFoundError',
        'bulk RepeatedUserIdsError',
        'bulk ok',
        'change RepeatedSlugsError',
        'change UnknownSegmentsError',
        'change ok',
        'change re-adds a lapsed membership',
        'change removes a lapsed membership',
        'create ConflictError',
        'create ok',
        'delete ok',
        'history add auto',
        'history add manual',
        'history remove auto',
        'history remove manual',
        'history remove segment_deleted',
        'history remove ttl',
        'percent ok',
        'sweep removed',
      ]),
    );
  }, 240_000);
});
