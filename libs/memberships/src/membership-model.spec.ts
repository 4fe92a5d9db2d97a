import { ConflictError, DomainError, NotFoundError, RepeatedSlugsError, RepeatedUserIdsError, UnknownSegmentsError } from '#libs/common';
import { segmentBucket, thresholdOf } from '#libs/segments';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MembershipModel, type ModelChange } from './membership-model.js';

const ACTOR = 'tester';
const SLUGS = ['A', 'B', 'C'] as const;
/** Never created: every request naming it is rejected. */
const UNKNOWN = 'ZZ';
const USERS = [1, 2, 3, 4, 5] as const;

/** Shares as auto_percent takes them (two decimals), with the edges often. */
const percent = fc.oneof(
  fc.constantFrom(0, 25, 50, 75, 100),
  fc.integer({ min: 0, max: 10_000 }).map((hundredths) => hundredths / 100),
);
const ttl = fc.constantFrom(1000, 2000, 5000);

type Op =
  | { kind: 'create'; slug: string; percent: number | null }
  | { kind: 'percent'; slug: string; percent: number | null }
  | { kind: 'delete'; slug: string }
  | { kind: 'register'; userId: number }
  | { kind: 'change'; userId: number; change: ModelChange }
  | { kind: 'bulk'; slug: string; add: number[]; remove: number[]; ttlMs?: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' };

const slug = fc.constantFrom(...SLUGS);
const user = fc.constantFrom(...USERS);
const changeOf = (options: { ttl: boolean }) =>
  fc
    .record({
      add: fc.uniqueArray(fc.record({ slug, ttlMs: options.ttl ? fc.option(ttl, { nil: undefined }) : fc.constant(undefined) }), {
        maxLength: 3,
        selector: (add) => add.slug,
      }),
      remove: fc.uniqueArray(slug, { maxLength: 3 }),
      ttlMs: options.ttl ? fc.option(ttl, { nil: undefined }) : fc.constant(undefined),
    })
    // A valid change never adds and removes one slug; the rejections have properties of their own.
    .map(({ add, remove, ttlMs }) => ({
      add: add.map((item) => (item.ttlMs === undefined ? { slug: item.slug } : item)),
      remove: remove.filter((removed) => !add.some((item) => item.slug === removed)),
      ...(ttlMs === undefined ? {} : { ttlMs }),
    }));

const opOf = (options: { ttl: boolean }): fc.Arbitrary<Op> =>
  fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('create' as const), slug, percent: fc.option(percent, { nil: null }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('percent' as const), slug, percent: fc.option(percent, { nil: null }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('delete' as const), slug }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('register' as const), userId: user }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('change' as const), userId: user, change: changeOf(options) }), weight: 5 },
    {
      arbitrary: fc
        .record({
          kind: fc.constant('bulk' as const),
          slug,
          add: fc.uniqueArray(user, { maxLength: 3 }),
          remove: fc.uniqueArray(user, { maxLength: 3 }),
          ttlMs: options.ttl ? fc.option(ttl, { nil: undefined }) : fc.constant(undefined),
        })
        .map((op) => ({ ...op, remove: op.remove.filter((id) => !op.add.includes(id)) })),
      weight: 2,
    },
    ...(options.ttl
      ? [
          { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(500, 1000, 2000, 5000) }), weight: 2 },
          { arbitrary: fc.constant({ kind: 'sweep' as const }), weight: 1 },
        ]
      : []),
  );

/** Applies one operation; a domain error (an unknown segment, a taken slug) is a rejection the other properties cover. */
function apply(model: MembershipModel, op: Op): void {
  try {
    switch (op.kind) {
      case 'create':
        model.createSegment(op.slug, { autoPercent: op.percent });
        return;
      case 'percent':
        model.setAutoPercent(op.slug, op.percent);
        return;
      case 'delete':
        model.deleteSegment(op.slug, ACTOR);
        return;
      case 'register':
        model.registerUser(op.userId);
        return;
      case 'change':
        model.changeUserSegments(op.userId, op.change, ACTOR);
        return;
      case 'bulk':
        model.changeSegmentMembers(op.slug, op, ACTOR);
        return;
      case 'advance':
        model.advance(op.ms);
        return;
      case 'sweep':
        model.sweep();
        return;
    }
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
  }
}

/** Pairs `user:segmentId` whose last history entry is an add: what replaying the history from the start gives. */
function replay(model: MembershipModel): Set<string> {
  const present = new Set<string>();
  for (const entry of model.history) {
    const key = `${entry.userId}:${entry.segmentId}`;
    if (entry.operation === 'add') present.add(key);
    else present.delete(key);
  }
  return present;
}

/** Visible (live, active) memberships of every user the model knows, as `user:segmentId`. */
function visible(model: MembershipModel): Set<string> {
  const pairs = new Set<string>();
  for (const userId of USERS) {
    for (const { slug } of model.userSegments(userId)) pairs.add(`${userId}:${model.activeSegment(slug)!.id}`);
  }
  return pairs;
}

/** Everything an observer can see, to compare before and after a rejected request. */
function snapshot(model: MembershipModel) {
  return {
    users: [...model.users].sort(),
    reads: USERS.map((userId) => model.userSegments(userId)),
    history: model.history.length,
    optOuts: USERS.flatMap((userId) => SLUGS.map((name) => model.optedOut(userId, name))),
  };
}

function withSegments(...names: string[]): MembershipModel {
  const model = new MembershipModel();
  for (const name of names) model.createSegment(name);
  return model;
}

describe('membership model: examples', () => {
  it('adds, keeps what the user had, and answers with what really changed', () => {
    const model = withSegments('A', 'B');
    expect(model.changeUserSegments(1, { add: [{ slug: 'B' }], remove: [] }, ACTOR)).toMatchObject({ added: ['B'], removed: [] });
    expect(model.changeUserSegments(1, { add: [{ slug: 'A' }, { slug: 'B' }], remove: [] }, ACTOR)).toEqual({
      added: ['A'],
      removed: [],
      segments: [
        { slug: 'A', source: 'manual', expiresAt: null },
        { slug: 'B', source: 'manual', expiresAt: null },
      ],
    });
    expect(model.userHistory(1).map((entry) => `${entry.operation} ${entry.slug} ${entry.reason} ${entry.actor}`)).toEqual([
      'add B manual tester',
      'add A manual tester',
    ]);
  });

  it('re-adding sets the expiry to what the new request says, without history', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs: 1000 }], remove: [] }, ACTOR);
    expect(model.userSegments(1)).toEqual([{ slug: 'A', source: 'manual', expiresAt: 1000 }]);
    model.changeUserSegments(1, { add: [{ slug: 'A' }], remove: [] }, ACTOR);
    expect(model.userSegments(1)).toEqual([{ slug: 'A', source: 'manual', expiresAt: null }]);
    model.changeUserSegments(1, { add: [{ slug: 'A' }], remove: [], ttlMs: 5000 }, ACTOR);
    expect(model.userSegments(1)).toEqual([{ slug: 'A', source: 'manual', expiresAt: 5000 }]);
    expect(model.userHistory(1)).toHaveLength(1);
  });

  it('an add names its own expiry before the request default', () => {
    const model = withSegments('A', 'B', 'C');
    model.changeUserSegments(
      1,
      { add: [{ slug: 'A', expiresAt: 700 }, { slug: 'B', ttlMs: 300 }, { slug: 'C' }], remove: [], ttlMs: 50 },
      ACTOR,
    );
    expect(model.userSegments(1).map((segment) => segment.expiresAt)).toEqual([700, 300, 50]);
  });

  it('a membership is visible strictly before its expiry instant, not at it', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs: 1000 }], remove: [] }, ACTOR);
    model.advance(999);
    expect(model.members('A')).toEqual([1]);
    model.advance(1);
    expect(model.members('A')).toEqual([]);
    expect(model.userSegments(1)).toEqual([]);
  });

  it('logs a lapsed membership as its ttl removal at its instant, then the re-add', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs: 1000 }], remove: [] }, ACTOR);
    model.advance(3000);
    expect(model.changeUserSegments(1, { add: [{ slug: 'A' }], remove: [] }, ACTOR).added).toEqual(['A']);
    expect(model.userHistory(1).map((entry) => [entry.operation, entry.reason, entry.actor, entry.at])).toEqual([
      ['add', 'manual', ACTOR, 0],
      ['remove', 'ttl', 'ttl', 1000],
      ['add', 'manual', ACTOR, 3000],
    ]);
  });

  it('removing a lapsed membership logs its expiry and reports no removal', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs: 1000 }], remove: [] }, ACTOR);
    model.advance(1000);
    expect(model.changeUserSegments(1, { add: [], remove: ['A'] }, ACTOR).removed).toEqual([]);
    expect(model.userHistory(1).at(-1)).toMatchObject({ operation: 'remove', reason: 'ttl', at: 1000 });
    expect(model.sweep()).toBe(0);
  });

  it('the sweep removes only what is due, at the expiry instant', () => {
    const model = withSegments('A', 'B');
    model.changeUserSegments(
      1,
      {
        add: [
          { slug: 'A', ttlMs: 1000 },
          { slug: 'B', ttlMs: 2000 },
        ],
        remove: [],
      },
      ACTOR,
    );
    model.advance(1500);
    expect(model.sweep()).toBe(1);
    expect(model.userHistory(1).at(-1)).toMatchObject({ slug: 'A', operation: 'remove', reason: 'ttl', at: 1000 });
    expect(model.userSegments(1).map((segment) => segment.slug)).toEqual(['B']);
  });

  it('rejects a taken slug, and frees it once the segment is deleted; the new segment is another one', () => {
    const model = withSegments('A');
    expect(() => model.createSegment('A')).toThrow(ConflictError);
    model.changeUserSegments(1, { add: [{ slug: 'A' }], remove: [] }, ACTOR);
    model.deleteSegment('A', 'cleaner');
    expect(model.userSegments(1)).toEqual([]);
    const again = model.createSegment('A');
    expect(again.id).not.toBe(1);
    expect(model.userSegments(1)).toEqual([]);
    expect(model.userHistory(1).map((entry) => `${entry.operation} ${entry.reason} ${entry.actor} ${entry.segmentId}`)).toEqual([
      'add manual tester 1',
      'remove segment_deleted cleaner 1',
    ]);
    expect(() => model.deleteSegment('B', ACTOR)).toThrow(NotFoundError);
  });

  it('purges an expired member of a deleted segment as its expiry', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs: 100 }], remove: [] }, ACTOR);
    model.advance(200);
    model.deleteSegment('A', 'cleaner');
    expect(model.userHistory(1).at(-1)).toMatchObject({ operation: 'remove', reason: 'ttl', actor: 'ttl', at: 100 });
  });

  it('assigns an automatic segment by bucket, at creation and on registration; an explicit removal sticks', () => {
    const model = new MembershipModel();
    model.registerUser(1);
    const segment = model.createSegment('AUTO', { autoPercent: 100 });
    expect(model.userSegments(1)).toEqual([{ slug: 'AUTO', source: 'auto', expiresAt: null }]);
    expect(model.registerUser(2)).toBe(true);
    expect(model.registerUser(2)).toBe(false);
    expect(model.members('AUTO')).toEqual([1, 2]);
    model.changeUserSegments(1, { add: [], remove: ['AUTO'] }, ACTOR);
    model.setAutoPercent('AUTO', 100);
    expect(model.members('AUTO')).toEqual([2]);
    expect(model.optedOut(1, 'AUTO')).toBe(true);
    // An add cancels the opt-out and makes the membership manual: lowering the share keeps it.
    model.changeUserSegments(1, { add: [{ slug: 'AUTO' }], remove: [] }, ACTOR);
    model.setAutoPercent('AUTO', 0);
    expect(model.members('AUTO')).toEqual([1]);
    expect(model.userHistory(2).map((entry) => `${entry.operation} ${entry.reason}`)).toEqual(['add auto', 'remove auto']);
    expect(segment.threshold).toBe(0);
  });

  it('a new user removing an automatic segment in its first request is never assigned it', () => {
    const model = new MembershipModel();
    model.createSegment('AUTO', { autoPercent: 100 });
    expect(model.changeUserSegments(9, { add: [], remove: ['AUTO'] }, ACTOR)).toEqual({ added: [], removed: [], segments: [] });
    expect(model.userHistory(9)).toEqual([]);
  });

  it('a bulk change counts real changes and registers unknown users', () => {
    const model = withSegments('A');
    model.changeUserSegments(1, { add: [{ slug: 'A' }], remove: [] }, ACTOR);
    expect(model.changeSegmentMembers('A', { add: [1, 2, 2, 3], remove: [4] }, ACTOR)).toEqual({ added: 2, removed: 0 });
    expect([...model.users].sort()).toEqual([1, 2, 3, 4]);
    expect(model.changeSegmentMembers('A', { add: [], remove: [1, 3, 3] }, ACTOR)).toEqual({ added: 0, removed: 2 });
    expect(model.members('A')).toEqual([2]);
    expect(() => model.changeSegmentMembers('B', { add: [1], remove: [] }, ACTOR)).toThrow(NotFoundError);
  });
});

describe('membership model: properties', () => {
  it('visibility at expiry: a membership with ttl t is visible after d exactly when d < t', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: -2, max: 2 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.boolean(),
        (ttlMs, nearBoundary, anywhere, near) => {
          const elapsed = near ? Math.max(0, ttlMs + nearBoundary) : anywhere;
          const model = withSegments('A');
          model.changeUserSegments(1, { add: [{ slug: 'A', ttlMs }], remove: [] }, ACTOR);
          model.advance(elapsed);
          expect(model.userSegments(1).length === 1).toBe(elapsed < ttlMs);
          expect(model.members('A').length === 1).toBe(elapsed < ttlMs);
          // Whatever removes it later, an expired membership is logged at its instant.
          model.sweep();
          expect(model.userHistory(1).at(-1)).toMatchObject(
            elapsed < ttlMs ? { operation: 'add', at: 0 } : { operation: 'remove', reason: 'ttl', at: ttlMs },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('history replays to the stored memberships; each pair alternates add and remove (no entry for a no-op)', () => {
    fc.assert(
      fc.property(fc.array(opOf({ ttl: true }), { maxLength: 40 }), (ops) => {
        const model = new MembershipModel();
        for (const op of ops) apply(model, op);
        // After a sweep nothing stored is expired: the replay is exactly what the reads show.
        model.sweep();
        expect(replay(model)).toEqual(visible(model));
        const last = new Map<string, string>();
        for (const entry of model.history) {
          const key = `${entry.userId}:${entry.segmentId}`;
          expect(last.get(key)).not.toBe(entry.operation);
          last.set(key, entry.operation);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('one history entry per real change: a change writes as many entries as pairs it changed, repeating it writes none', () => {
    fc.assert(
      fc.property(fc.array(opOf({ ttl: false }), { maxLength: 20 }), user, changeOf({ ttl: false }), (ops, userId, change) => {
        const model = new MembershipModel();
        for (const op of ops) apply(model, op);
        if (change.add.concat(change.remove.map((name) => ({ slug: name }))).some((item) => !model.activeSegment(item.slug))) return;
        const before = model.history.length;
        const known = model.users.has(userId);
        const result = model.changeUserSegments(userId, change, ACTOR);
        const written = model.history.slice(before);
        // The manual entries are the answer's added and removed; a new user may get automatic segments besides.
        const manual = (operation: string) =>
          written
            .filter((entry) => entry.reason === 'manual' && entry.operation === operation)
            .map((entry) => entry.slug)
            .sort();
        expect(manual('remove')).toEqual(result.removed);
        expect(manual('add')).toEqual(result.added);
        if (known) expect(written.every((entry) => entry.reason === 'manual')).toBe(true);
        const after = model.history.length;
        expect(model.changeUserSegments(userId, change, ACTOR)).toMatchObject({ added: [], removed: [] });
        expect(model.history.length).toBe(after);
      }),
      { numRuns: 300 },
    );
  });

  it('atomic rejection: a change naming unknown or repeated slugs names every bad item and changes nothing', () => {
    const listed = fc.array(fc.constantFrom(...SLUGS, UNKNOWN, 'YY'), { maxLength: 5 });
    fc.assert(
      fc.property(fc.array(opOf({ ttl: true }), { maxLength: 15 }), user, listed, listed, (ops, userId, adds, removes) => {
        const model = new MembershipModel();
        for (const op of ops) apply(model, op);
        const change: ModelChange = { add: adds.map((name) => ({ slug: name })), remove: removes };
        const positions = [
          ...adds.map((name, index) => ({ list: 'add', index, slug: name })),
          ...removes.map((name, index) => ({ list: 'remove', index, slug: name })),
        ];
        const seen = new Set<string>();
        const repeated = positions.filter(({ slug: name }) => seen.has(name) || !seen.add(name));
        const unknown = positions.filter(({ slug: name }) => !model.activeSegment(name));
        const before = snapshot(model);
        let error: unknown;
        try {
          model.changeUserSegments(userId, change, ACTOR);
        } catch (caught) {
          error = caught;
        }
        if (repeated.length > 0) {
          expect(error).toBeInstanceOf(RepeatedSlugsError);
          expect((error as RepeatedSlugsError).slugs.map(({ list, index }) => `${list}[${index}]`)).toEqual(
            repeated.map(({ list, index }) => `${list}[${index}]`),
          );
        } else if (unknown.length > 0) {
          expect(error).toBeInstanceOf(UnknownSegmentsError);
          expect((error as UnknownSegmentsError).slugs).toEqual(unknown);
        } else {
          expect(error).toBeUndefined();
          return;
        }
        expect(snapshot(model)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('atomic rejection: a bulk change adding and removing one user names each such user and changes nothing', () => {
    fc.assert(
      fc.property(
        fc.array(opOf({ ttl: false }), { maxLength: 15 }),
        fc.array(user, { maxLength: 5 }),
        fc.array(user, { minLength: 1, maxLength: 5 }),
        (ops, add, remove) => {
          const model = withSegments('A');
          for (const op of ops) apply(model, op);
          if (!model.activeSegment('A')) model.createSegment('A');
          const both = remove.flatMap((userId, index) => (add.includes(userId) ? [{ userId, index }] : []));
          const before = snapshot(model);
          if (both.length === 0) {
            expect(() => model.changeSegmentMembers('A', { add, remove }, ACTOR)).not.toThrow();
            return;
          }
          expect(() => model.changeSegmentMembers('A', { add, remove }, ACTOR)).toThrow(new RepeatedUserIdsError(both));
          expect(snapshot(model)).toEqual(before);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('eligibility: an automatic member is selected and not opted out; once expiries are swept, member ⇔ eligible or manual', () => {
    for (const withTtl of [false, true]) {
      fc.assert(
        fc.property(fc.array(opOf({ ttl: withTtl }), { maxLength: 40 }), (ops) => {
          const model = new MembershipModel();
          for (const op of ops) apply(model, op);
          // A lapsed manual membership of an automatic segment gives the segment back its user at the sweep.
          model.sweep();
          for (const segment of model.segments.values()) {
            if (segment.deleted) continue;
            for (const userId of model.users) {
              const membership = model.userSegments(userId).find((item) => item.slug === segment.slug);
              if (membership?.source === 'auto') {
                expect(segmentBucket(segment.id, userId)).toBeLessThan(segment.threshold);
                expect(model.optedOut(userId, segment.slug)).toBe(false);
              }
              expect(membership !== undefined).toBe(model.eligible(userId, segment) || membership?.source === 'manual');
            }
          }
        }),
        { numRuns: 150 },
      );
    }
  });

  it('monotonic rollouts: raising the share removes nobody; lowering it removes only automatic members it no longer selects', () => {
    fc.assert(
      fc.property(fc.array(opOf({ ttl: true }), { maxLength: 30 }), slug, percent, percent, (ops, name, x, y) => {
        const model = new MembershipModel();
        for (const op of ops) apply(model, op);
        if (!model.activeSegment(name)) model.createSegment(name, { autoPercent: Math.min(x, y) });
        model.setAutoPercent(name, Math.min(x, y));
        const segment = model.activeSegment(name)!;
        const before = model.members(name);
        const manual = before.filter((userId) => model.userSegments(userId).find((item) => item.slug === name)?.source === 'manual');
        const entries = model.history.length;
        model.setAutoPercent(name, Math.max(x, y));
        const raised = model.members(name);
        expect(raised).toEqual(expect.arrayContaining(before));
        expect(model.history.slice(entries).every((entry) => entry.operation === 'add' && entry.reason === 'auto')).toBe(true);
        model.setAutoPercent(name, Math.min(x, y));
        const lowered = model.members(name);
        expect(lowered).toEqual(expect.arrayContaining(manual));
        for (const userId of raised.filter((id) => !lowered.includes(id))) {
          expect(segmentBucket(segment.id, userId)).toBeGreaterThanOrEqual(thresholdOf(Math.min(x, y)));
        }
      }),
      { numRuns: 200 },
    );
  });
});
