import { NotFoundError, RepeatedUserIdsError, UnknownSegmentsError } from '#libs/common';
import type { SegmentRef } from '#libs/segments';
import { expiryOf, sortSlugs, unknownSlugs, type RemovedMembership } from './membership.rules.js';
import type { ManualAdd, MembershipKey } from './memberships.repository.js';
import type { MembershipAdd, MembershipChangeRequest, MembershipChangeResult, UserSegment } from './memberships.types.js';
import { RETRY_LATER } from './write-batcher.js';

/**
 * The planning of the membership write path (MembershipWritesService), as pure functions: which
 * writes are refused, which membership rows the others change, and what each write answers
 * from the rows the statements report. No database access: the service runs the statements
 * between these steps (and the repository records each reported row in history).
 */

/** One user's part of a write: a membership change by `actor`, or a registration (no change). */
export interface UserWrite {
  userId: number;
  change?: MembershipChangeRequest;
  actor: string;
}

export type UserWriteOutcome = { created: boolean; result?: MembershipChangeResult } | { error: UnknownSegmentsError };

/** A bulk change of one segment: users to add (with one expiry for all) and users to remove. */
export type MembersChange = { add: number[]; remove: number[] } & Omit<MembershipAdd, 'slug'>;

/** One write per distinct user of a bulk change of `slug`; a user both added and removed is refused, naming each. */
export function memberWrites(slug: string, change: MembersChange, actor: string): UserWrite[] {
  const adding = new Set(change.add);
  const both = change.remove.flatMap((userId, index) => (adding.has(userId) ? [{ userId, index }] : []));
  if (both.length > 0) throw new RepeatedUserIdsError(both);
  // Every user shares one change object per direction: a 100 000-user change allocates no change per user.
  const adds: MembershipChangeRequest = { add: [{ slug, ttlSeconds: change.ttlSeconds, expiresAt: change.expiresAt }], remove: [] };
  const removes: MembershipChangeRequest = { add: [], remove: [slug] };
  return [
    ...[...adding].map((userId) => ({ userId, actor, change: adds })),
    ...[...new Set(change.remove)].map((userId) => ({ userId, actor, change: removes })),
  ];
}

/** The distinct change objects of the writes (bulk writes share them: each is looked at once). */
function distinctChanges(writes: readonly UserWrite[]): MembershipChangeRequest[] {
  return [...new Set(writes.flatMap((write) => (write.change ? [write.change] : [])))];
}

/** Every slug the writes name, once. */
export function slugsOf(writes: readonly UserWrite[]): string[] {
  const slugs = new Set(distinctChanges(writes).flatMap((change) => [...change.add.map((add) => add.slug), ...change.remove]));
  return [...slugs];
}

/**
 * The writes refused because they name segments `active` does not hold, by user: each error
 * names every unknown slug of its write, which changes nothing (its user is not registered either).
 */
export function rejectUnknown(writes: readonly UserWrite[], active: ReadonlyMap<string, SegmentRef>): Map<number, UnknownSegmentsError> {
  const unknownIn = new Map(distinctChanges(writes).map((change) => [change, unknownSlugs(change, active)]));
  const errors = new Map<number, UnknownSegmentsError>();
  for (const { userId, change } of writes) {
    const unknown = change ? unknownIn.get(change)! : [];
    if (unknown.length > 0) errors.set(userId, new UnknownSegmentsError(unknown));
  }
  return errors;
}

/** The rows a write transaction changes, and who changes each. */
export interface RowPlan {
  /** The writes with a change that are applied (not refused, their user not held elsewhere). */
  applied: UserWrite[];
  /** Memberships to remove (opting their users out). */
  removals: MembershipKey[];
  /** Memberships to add or whose expiry to set (ending their users' opt-outs), each with its expiry. */
  adds: ManualAdd[];
  slugOf: Map<number, string>;
  actorOf: (userId: number) => string;
}

/** The rows the writes change, leaving out those of users `skipped` (refused, or held by another transaction). */
export function planRows(
  writes: readonly UserWrite[],
  active: ReadonlyMap<string, SegmentRef>,
  skipped: (userId: number) => boolean,
): RowPlan {
  const applied = writes.filter((write) => write.change && !skipped(write.userId));
  const slugOf = new Map([...active.values()].map((segment) => [segment.id, segment.slug]));
  const idOf = (slug: string) => active.get(slug)!.id;
  const actors = new Map(applied.map((write) => [write.userId, write.actor]));
  const removals: MembershipKey[] = [];
  const adds: ManualAdd[] = [];
  for (const { userId, change } of applied) {
    for (const slug of change!.remove) removals.push({ userId, segmentId: idOf(slug) });
    for (const add of change!.add) adds.push({ userId, segmentId: idOf(add.slug), ...expiryOf(add, change!.ttlSeconds) });
  }
  return { applied, removals, adds, slugOf, actorOf: (userId) => actors.get(userId)! };
}

/** What the statements of a write transaction did, as they reported it. */
export interface WriteEffects {
  errors: ReadonlyMap<number, UnknownSegmentsError>;
  /** Users held by another transaction (their writes are tried again). */
  busy: ReadonlySet<number>;
  /** Users the transaction registered. */
  created: ReadonlySet<number>;
  /** Memberships that really came (a re-add that only sets the expiry is not one). */
  added: readonly MembershipKey[];
  /** Memberships removed; those that had expired already were no memberships any more. */
  removed: readonly RemovedMembership[];
  /** The users' segments after the change, when read back. */
  current: ReadonlyMap<number, UserSegment[]>;
  slugOf: ReadonlyMap<number, string>;
}

/** Each write's answer, in the order of `writes`: its error, RETRY_LATER, or whether its user is new and what really changed. */
export function writeOutcomes(writes: readonly UserWrite[], effects: WriteEffects): (UserWriteOutcome | typeof RETRY_LATER)[] {
  const addedBy = groupSlugs(effects.added, effects.slugOf);
  const removedBy = groupSlugs(
    effects.removed.filter((row) => !row.expired),
    effects.slugOf,
  );
  return writes.map((write) => {
    const error = effects.errors.get(write.userId);
    if (error) return { error };
    if (effects.busy.has(write.userId)) return RETRY_LATER;
    const outcome = { created: effects.created.has(write.userId) };
    if (!write.change) return outcome;
    return {
      ...outcome,
      result: {
        userId: write.userId,
        added: sortSlugs(addedBy.get(write.userId) ?? []),
        removed: sortSlugs(removedBy.get(write.userId) ?? []),
        segments: effects.current.get(write.userId) ?? [],
      },
    };
  });
}

/** Memberships that came and went in the outcomes of a bulk change of one segment; NotFoundError when it is gone. */
export function countChanges(
  outcomes: readonly (UserWriteOutcome | typeof RETRY_LATER)[],
  slug: string,
): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const outcome of outcomes) {
    if (outcome === RETRY_LATER) throw new Error('A bulk change waits for its users; none is left to retry');
    if ('error' in outcome) throw new NotFoundError(`Segment "${slug}"`);
    added += outcome.result!.added.length;
    removed += outcome.result!.removed.length;
  }
  return { added, removed };
}

/** The slugs of `keys` by user. */
function groupSlugs(keys: readonly MembershipKey[], slugOf: ReadonlyMap<number, string>): Map<number, string[]> {
  const byUser = new Map<number, string[]>();
  for (const { userId, segmentId } of keys) {
    const slugs = byUser.get(userId);
    if (slugs) slugs.push(slugOf.get(segmentId)!);
    else byUser.set(userId, [slugOf.get(segmentId)!]);
  }
  return byUser;
}
