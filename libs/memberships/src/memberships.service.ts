import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cursorInteger, decodeCursor, UnknownSegmentsError, type Caller } from '#libs/common';
import { AUTOMATIC_ACTOR } from '#libs/history';
import { SegmentsRepository } from '#libs/segments';
import { UsersRepository, UsersService } from '#libs/users';
import DataLoader from 'dataloader';
import { DataSource, type EntityManager } from 'typeorm';
import { assertDistinctSlugs, expiryOf, sortSlugs, unknownSlugs } from './membership.rules.js';
import { MembershipsRepository, type ManualAdd, type MembershipKey } from './memberships.repository.js';
import type {
  MembershipChangeRequest,
  MembershipChangeResult,
  RegistrationResult,
  SegmentMember,
  UserSegment,
} from './memberships.types.js';

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
 * The one write path of memberships on request (the bulk paths — rollouts, expiry, purge —
 * are its sibling services, over the same repository). A write runs in one transaction that
 * first locks its users' rows (registering new users), so the writes of one user are
 * serialised and cannot deadlock; every statement reports only the rows it really changed,
 * and the repository records exactly those in history.
 */
@Injectable()
export class MembershipsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly memberships: MembershipsRepository,
    private readonly segments: SegmentsRepository,
    private readonly users: UsersRepository,
    private readonly userService: UsersService,
  ) {}

  /**
   * Adds and removes segments of one user atomically: when any slug is unknown nothing is
   * applied and the error names every unknown slug. A removal also opts the user out of the
   * segment's automatic assignment (it sticks); an add cancels such an opt-out.
   */
  async changeUserSegments(userId: number, change: MembershipChangeRequest, caller: Caller): Promise<MembershipChangeResult> {
    assertDistinctSlugs(change);
    const [outcome] = await this.dataSource.transaction((manager) => this.write(manager, [{ userId, change, actor: caller.actor }]));
    if ('error' in outcome!) throw outcome.error;
    return outcome!.result!;
  }

  /** Registers one user (with its automatic segments); returns true when the user is new. */
  async registerUser(userId: number): Promise<boolean> {
    const [outcome] = await this.dataSource.transaction((manager) => this.write(manager, [{ userId, actor: AUTOMATIC_ACTOR }]));
    return 'created' in outcome! && outcome.created;
  }

  /** Registers the ids that are new, giving each the automatic segments its buckets qualify for. */
  async registerUsers(userIds: number[]): Promise<RegistrationResult> {
    const created = await this.dataSource.transaction(async (manager) => {
      const ids = await this.users.insertNew(manager, userIds);
      await this.memberships.assignAuto(manager, ids, await this.segments.lockAutoSegments(manager));
      return ids;
    });
    return { created: created.length, existing: new Set(userIds).size - created.length };
  }

  /** Registers a user under a new id that no known user has. */
  async registerNewUser(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const userId = await this.userService.allocate(manager);
      await this.memberships.assignAuto(manager, [userId], await this.segments.lockAutoSegments(manager));
      return userId;
    });
  }

  /** The user's live segments, sorted by slug; empty for a user the service never saw. */
  async userSegments(userId: number): Promise<UserSegment[]> {
    return this.userSegmentsLoader.load(userId);
  }

  /**
   * The hot read path. Reads that arrive in the same event-loop turn are answered by one
   * query (`user_id = ANY(…)`, a prepared statement): under load this divides round trips to
   * PostgreSQL by the batch size. Nothing is cached, so a read that starts after a write
   * completed always sees it.
   */
  private readonly userSegmentsLoader = new DataLoader<number, UserSegment[]>(
    async (userIds) => {
      const byUser = await this.memberships.usersSegments(this.dataSource.manager, userIds);
      return userIds.map((userId) => byUser.get(userId) ?? []);
    },
    { cache: false, maxBatchSize: 256, batchScheduleFn: (run) => setImmediate(run) },
  );

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
   * nothing (its user is not registered either); the others are applied.
   */
  private async write(manager: EntityManager, writes: UserWrite[]): Promise<UserWriteOutcome[]> {
    const existing = new Set(
      await this.users.lock(
        manager,
        writes.map((write) => write.userId),
      ),
    );
    const slugs = [
      ...new Set(writes.flatMap((write) => (write.change ? [...write.change.add.map((add) => add.slug), ...write.change.remove] : []))),
    ];
    const segments = await this.segments.resolveActive(manager, slugs);
    const errors = writes.map((write) => {
      const unknown = write.change ? unknownSlugs(write.change, segments) : [];
      return unknown.length > 0 ? new UnknownSegmentsError(unknown) : undefined;
    });
    const accepted = writes.filter((_, index) => errors[index] === undefined);
    const created = new Set(
      await this.userService.register(
        manager,
        accepted.map((write) => write.userId).filter((userId) => !existing.has(userId)),
      ),
    );

    const slugOf = new Map([...segments.values()].map((segment) => [segment.id, segment.slug]));
    const idOf = (slug: string) => segments.get(slug)!.id;
    const changes = accepted.filter((write) => write.change);
    const actors = new Map(changes.map((write) => [write.userId, write.actor]));
    const actorOf = (userId: number) => actors.get(userId)!;
    const removals: MembershipKey[] = changes.flatMap(({ userId, change }) =>
      change!.remove.map((slug) => ({ userId, segmentId: idOf(slug) })),
    );
    const touched: MembershipKey[] = changes.flatMap(({ userId, change }) =>
      [...change!.add.map((add) => add.slug), ...change!.remove].map((slug) => ({ userId, segmentId: idOf(slug) })),
    );
    const adds: ManualAdd[] = changes.flatMap(({ userId, change }) =>
      change!.add.map((add) => ({ userId, segmentId: idOf(add.slug), ...expiryOf(add, change!.ttlSeconds) })),
    );
    const removedRows =
      touched.length > 0 ? await this.memberships.removeAndOptOut(manager, { removals, touched }, slugOf, 'manual', actorOf) : [];
    const added = adds.length > 0 ? await this.memberships.upsertManual(manager, adds, slugOf, actorOf) : [];
    // After the manual changes, so that what a new user's own request added or removed takes precedence.
    if (created.size > 0) await this.memberships.assignAuto(manager, [...created], await this.segments.lockAutoSegments(manager));
    const current =
      changes.length > 0
        ? await this.memberships.usersSegments(
            manager,
            changes.map((write) => write.userId),
          )
        : new Map();

    const slugsOf = (keys: MembershipKey[], userId: number) =>
      sortSlugs(keys.filter((key) => key.userId === userId).map((key) => slugOf.get(key.segmentId)!));
    return writes.map((write, index) => {
      const error = errors[index];
      if (error) return { error };
      const outcome = { created: created.has(write.userId) };
      if (!write.change) return outcome;
      return {
        ...outcome,
        result: {
          userId: write.userId,
          added: slugsOf(added, write.userId),
          removed: slugsOf(
            removedRows.filter((row) => !row.expired),
            write.userId,
          ),
          segments: current.get(write.userId) ?? [],
        },
      };
    });
  }
}
