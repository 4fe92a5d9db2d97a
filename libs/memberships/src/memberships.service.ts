import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import {
  cursorInteger,
  decodeCursor,
  IdAllocationError,
  NotFoundError,
  RepeatedUserIdsError,
  UnknownSegmentsError,
  type Caller,
} from '#libs/common';
import { planEachStatement, retryOnDeadlock } from '#libs/database';
import { AppConfig } from '#libs/config';
import { AUTOMATIC_ACTOR } from '#libs/history';
import { SegmentsRepository } from '#libs/segments';
import { UsersService } from '#libs/users';
import type { Histogram } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { assertDistinctSlugs, expiryOf, sortSlugs, unknownSlugs } from './membership.rules.js';
import { MembershipsRepository, type ManualAdd, type MembershipKey } from './memberships.repository.js';
import type {
  MembershipAdd,
  MembershipChangeRequest,
  MembershipChangeResult,
  RegistrationResult,
  SegmentMember,
  UserSegment,
} from './memberships.types.js';
import { ReadBatcher } from './read-batcher.js';
import { RETRY_LATER, WriteBatcher } from './write-batcher.js';

export const WRITE_BATCH_SIZE = 'membership_write_batch_size';
export const writeBatchSizeProvider = makeHistogramProvider({
  name: WRITE_BATCH_SIZE,
  help: 'Requests applied together in one membership write transaction',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
});

/** Read queries of the hot path running at once per process. */
const READS_IN_FLIGHT = 2;
/** Users per read query: a lookup of the most users allowed (1 000) fits in one. */
const READ_BATCH_MAX_USERS = 1_000;

/**
 * Users per step of a bulk change (one transaction still): each step's statements and the work
 * in this process around them stay short, so a 100 000-id change does not hold the event loop
 * for the requests served beside it.
 */
const BULK_SLICE = 10_000;

/** How often a new id may turn out taken by a caller-chosen one before allocation gives up. */
const ALLOCATION_ATTEMPTS = 5;

/** Position in a segment's member list (by user id), as a cursor holds it. */
export const memberCursorKey = (member: SegmentMember): [number] => [member.userId];
const parseMemberCursor = (values: unknown[]) => (values.length === 1 ? cursorInteger(values[0]) : undefined);

/** One user's part of a write: a membership change by `actor`, or a registration (no change). */
interface UserWrite {
  userId: number;
  change?: MembershipChangeRequest;
  actor: string;
}

type UserWriteOutcome = { created: boolean; result?: MembershipChangeResult } | { error: UnknownSegmentsError };

/**
 * How a write transaction treats users that another transaction holds: requests (batched)
 * leave them out, to be tried again by themselves, so that no batch waits for a campaign;
 * bulk changes wait for them, and read nothing back.
 */
type WriteKind = 'requests' | 'bulk';

/**
 * The one write path of memberships on request (the bulk paths — rollouts, expiry, purge —
 * are its sibling services, over the same repository). Writes that arrive together (distinct
 * users) are applied together by one transaction of set-based statements (see WriteBatcher);
 * a single write is a batch of one. The transaction locks its users' rows (registering new
 * users), so the writes of one user are serialised; it never waits for a user another
 * transaction holds (that write is tried again by itself), so a batch never waits for a
 * campaign (SPEC §2 rule 8). Every statement reports only the rows it really changed, and the
 * repository records exactly those in history.
 */
@Injectable()
export class MembershipsService {
  private readonly batcher: WriteBatcher<UserWrite, UserWriteOutcome>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly memberships: MembershipsRepository,
    private readonly segments: SegmentsRepository,
    private readonly users: UsersService,
    config: AppConfig,
    @InjectMetric(WRITE_BATCH_SIZE) batchSizes: Histogram,
  ) {
    this.batcher = new WriteBatcher((writes) => this.dataSource.transaction((manager) => this.write(manager, writes, 'requests')), {
      concurrency: config.WRITE_BATCH_CONCURRENCY,
      maxSize: config.WRITE_BATCH_MAX_SIZE,
      onBatch: (size) => batchSizes.observe(size),
    });
  }

  /**
   * Adds and removes segments of one user atomically: when any slug is unknown nothing is
   * applied and the error names every unknown slug. A removal also opts the user out of the
   * segment's automatic assignment (it sticks); an add cancels such an opt-out.
   */
  async changeUserSegments(userId: number, change: MembershipChangeRequest, caller: Caller): Promise<MembershipChangeResult> {
    assertDistinctSlugs(change);
    const outcome = await this.batcher.submit({ userId, change, actor: caller.actor });
    if ('error' in outcome) throw outcome.error;
    return outcome.result!;
  }

  /**
   * Adds and removes one segment for many users at once (campaign lists), atomically: one
   * transaction through the same write path as requests, unknown users registered (with their
   * automatic segments), removals opting users out, one history entry per real change.
   * Returns how many memberships really came and went (a re-add that only sets the expiry
   * counts 0). `expiry` applies to every add.
   */
  async changeSegmentMembers(
    slug: string,
    change: { add: number[]; remove: number[] } & Omit<MembershipAdd, 'slug'>,
    caller: Caller,
  ): Promise<{ added: number; removed: number }> {
    // In user id order, slice by slice: locks are taken in one order (no two bulk changes deadlock
    // on one PostgreSQL), and no slice holds the event loop long enough to stall other requests.
    const writes = this.memberWrites(slug, change, caller.actor).sort((a, b) => a.userId - b.userId);
    return retryOnDeadlock(() =>
      this.dataSource.transaction(async (manager) => {
        const total = { added: 0, removed: 0 };
        for (let start = 0; start < writes.length; start += BULK_SLICE) {
          const counts = countChanges(await this.write(manager, writes.slice(start, start + BULK_SLICE), 'bulk'), slug);
          total.added += counts.added;
          total.removed += counts.removed;
        }
        return total;
      }),
    );
  }

  /**
   * A bulk change of the segment with this id inside the caller's transaction (a chunk of a
   * CSV import): the same write path; NotFoundError once the segment is deleted, even if a new
   * segment took its slug.
   */
  async changeSegmentMembersIn(
    manager: EntityManager,
    segmentId: number,
    change: { add: number[]; remove: number[] } & Omit<MembershipAdd, 'slug'>,
    actor: string,
  ): Promise<{ added: number; removed: number }> {
    const segment = await this.segments.resolveActiveById(manager, segmentId);
    if (!segment) throw new NotFoundError(`Segment ${segmentId}`);
    return countChanges(await this.write(manager, this.memberWrites(segment.slug, change, actor), 'bulk'), segment.slug);
  }

  /** One write per distinct user of a bulk change; a user both added and removed is refused, naming each. */
  private memberWrites(
    slug: string,
    change: { add: number[]; remove: number[] } & Omit<MembershipAdd, 'slug'>,
    actor: string,
  ): UserWrite[] {
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

  /** The live segments of every user asked for, in the order asked (unknown users: none), from one query of the hot read path. */
  async lookUp(userIds: number[]): Promise<{ userId: number; segments: UserSegment[] }[]> {
    const byUser = await this.reads.read([...new Set(userIds)]);
    return userIds.map((userId) => ({ userId, segments: byUser.get(userId) ?? [] }));
  }

  /** Registers one user (with its automatic segments); returns true when the user is new. */
  async registerUser(userId: number): Promise<boolean> {
    const outcome = await this.batcher.submit({ userId, actor: AUTOMATIC_ACTOR });
    return 'created' in outcome && outcome.created;
  }

  /** Registers the ids that are new, giving each the automatic segments its buckets qualify for. */
  async registerUsers(userIds: number[]): Promise<RegistrationResult> {
    const created = await this.dataSource.transaction(async (manager) => {
      await planEachStatement(manager);
      const ids = await this.users.register(manager, userIds);
      await this.memberships.assignAuto(manager, ids, await this.segments.lockAutoSegments(manager));
      return ids;
    });
    return { created: created.length, existing: new Set(userIds).size - created.length };
  }

  /**
   * Registers a user under a new id that no known user has: the allocator's next id, registered
   * through the same write path; when a caller registered that id meanwhile, the allocator moves
   * to the next free id and tries again.
   */
  async registerNewUser(): Promise<number> {
    for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
      const candidate = await this.users.nextId();
      if (await this.registerUser(candidate)) return candidate;
      await this.users.skipTaken(candidate);
    }
    throw new IdAllocationError();
  }

  /** The user's live segments, sorted by slug; empty for a user the service never saw. */
  async userSegments(userId: number): Promise<UserSegment[]> {
    return (await this.reads.read([userId])).get(userId) ?? [];
  }

  /**
   * The hot read path: reads (a GET's user, a lookup's users) that arrive together are
   * answered by one prepared query (`user_id = ANY(…)`, see ReadBatcher), at most
   * READS_IN_FLIGHT at once per process, so under load queries grow instead of multiplying.
   */
  private readonly reads = new ReadBatcher((userIds) => this.memberships.usersSegments(this.dataSource.manager, userIds), {
    concurrency: READS_IN_FLIGHT,
    maxKeys: READ_BATCH_MAX_USERS,
  });

  /** Live members of a segment by ascending user id, `limit + 1` rows (see toPage with memberCursorKey). */
  segmentMembers(segmentId: number, limit: number, cursor?: string): Promise<SegmentMember[]> {
    const after = cursor === undefined ? 0 : decodeCursor(cursor, parseMemberCursor);
    return this.memberships.segmentMembers(segmentId, after, limit + 1);
  }

  countMembers(segmentId: number): Promise<number> {
    return this.memberships.countMembers(segmentId);
  }

  /**
   * Applies the writes of distinct users in `manager`'s transaction, set-based: one statement
   * per step for all of them. A write that names unknown segments gets its error and changes
   * nothing (its user is not registered either); the others are applied, except, for
   * `requests`, those of users another transaction holds: they are answered RETRY_LATER. Only
   * `requests` read the users' resulting segments back.
   */
  private async write(manager: EntityManager, writes: UserWrite[], kind: WriteKind): Promise<(UserWriteOutcome | typeof RETRY_LATER)[]> {
    if (kind === 'bulk') await planEachStatement(manager);
    const changes = writes.filter((write) => write.change);
    // Bulk writes share change objects (see memberWrites): each distinct one is looked at once.
    const distinct = [...new Set(changes.map((write) => write.change!))];
    const slugs = new Set(distinct.flatMap((change) => [...change.add.map((add) => add.slug), ...change.remove]));
    const segments = await this.segments.resolveActive(manager, [...slugs]);
    const unknownIn = new Map(distinct.map((change) => [change, unknownSlugs(change, segments)]));
    const errors = new Map<number, UnknownSegmentsError>();
    for (const { userId, change } of changes) {
      const unknown = unknownIn.get(change!)!;
      if (unknown.length > 0) errors.set(userId, new UnknownSegmentsError(unknown));
    }
    const accepted = writes.filter((write) => !errors.has(write.userId)).map((write) => write.userId);
    const { created: createdIds, busy: busyIds } =
      kind === 'bulk'
        ? { created: await this.users.lockAndRegister(manager, accepted), busy: [] }
        : await this.users.lockAndRegisterUnlessBusy(manager, accepted);
    const created = new Set(createdIds);
    const busy = new Set(busyIds);

    const applied = writes.filter((write) => write.change && !errors.has(write.userId) && !busy.has(write.userId));
    const slugOf = new Map([...segments.values()].map((segment) => [segment.id, segment.slug]));
    const idOf = (slug: string) => segments.get(slug)!.id;
    const actors = new Map(applied.map((write) => [write.userId, write.actor]));
    const actorOf = (userId: number) => actors.get(userId)!;
    const removals: MembershipKey[] = [];
    const adds: ManualAdd[] = [];
    for (const { userId, change } of applied) {
      for (const slug of change!.remove) removals.push({ userId, segmentId: idOf(slug) });
      for (const add of change!.add) adds.push({ userId, segmentId: idOf(add.slug), ...expiryOf(add, change!.ttlSeconds) });
    }
    // A change never adds and removes one slug (assertDistinctSlugs), so the adds are the other pairs it touches.
    const removed =
      removals.length + adds.length > 0
        ? await this.memberships.removeAndOptOut(manager, { removals, others: adds }, slugOf, 'manual', actorOf)
        : [];
    const added = adds.length > 0 ? await this.memberships.upsertManual(manager, adds, slugOf, actorOf) : [];
    // After the manual changes, so that what a new user's own request added or removed takes precedence.
    if (created.size > 0) await this.memberships.assignAuto(manager, [...created], await this.segments.lockAutoSegments(manager));
    const current =
      kind === 'requests' && applied.length > 0
        ? await this.memberships.usersSegments(
            manager,
            applied.map((write) => write.userId),
          )
        : new Map();

    const addedBy = groupSlugs(added, slugOf);
    const removedBy = groupSlugs(
      removed.filter((row) => !row.expired),
      slugOf,
    );
    return writes.map((write) => {
      const error = errors.get(write.userId);
      if (error) return { error };
      if (busy.has(write.userId)) return RETRY_LATER;
      const outcome = { created: created.has(write.userId) };
      if (!write.change) return outcome;
      return {
        ...outcome,
        result: {
          userId: write.userId,
          added: sortSlugs(addedBy.get(write.userId) ?? []),
          removed: sortSlugs(removedBy.get(write.userId) ?? []),
          segments: current.get(write.userId) ?? [],
        },
      };
    });
  }
}

/** Memberships that came and went in the outcomes of a bulk change of one segment; NotFoundError when it is gone. */
function countChanges(outcomes: (UserWriteOutcome | typeof RETRY_LATER)[], slug: string): { added: number; removed: number } {
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
