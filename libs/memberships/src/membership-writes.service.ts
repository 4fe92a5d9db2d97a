import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { NotFoundError, type Caller } from '#libs/common';
import { planEachStatement, retryOnDeadlock } from '#libs/database';
import { AppConfig } from '#libs/config';
import { AUTOMATIC_ACTOR } from '#libs/history';
import { HeldSegmentsService } from '#libs/segments';
import { UsersService } from '#libs/users';
import type { Histogram } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { assertDistinctSlugs } from './membership.rules.js';
import {
  countChanges,
  memberWrites,
  planRows,
  rejectUnknown,
  slugsOf,
  writeOutcomes,
  type MembersChange,
  type UserWrite,
  type UserWriteOutcome,
} from './membership-write-plan.js';
import { MembershipsRepository } from './memberships.repository.js';
import type { MembershipChangeRequest, MembershipChangeResult, UserSegment } from './memberships.types.js';
import { RETRY_LATER, WriteBatcher } from './write-batcher.js';

export const WRITE_BATCH_SIZE = 'membership_write_batch_size';
export const writeBatchSizeProvider = makeHistogramProvider({
  name: WRITE_BATCH_SIZE,
  help: 'Requests applied together in one membership write transaction',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
});

/**
 * Users per step of a bulk change (one transaction still): each step's statements and the work
 * in this process around them stay short, so a 100 000-id change does not hold the event loop
 * for the requests served beside it.
 */
const BULK_SLICE = 10_000;

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
 * repository records exactly those in history. What the statements change is planned by the
 * pure functions of membership-write-plan.ts.
 */
@Injectable()
export class MembershipWritesService {
  private readonly batcher: WriteBatcher<UserWrite, UserWriteOutcome>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly memberships: MembershipsRepository,
    private readonly segments: HeldSegmentsService,
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

  /** Registers one user (with its automatic segments) through the batched write path; true when the user is new. */
  async register(userId: number): Promise<boolean> {
    const outcome = await this.batcher.submit({ userId, actor: AUTOMATIC_ACTOR });
    return 'created' in outcome && outcome.created;
  }

  /**
   * Adds and removes one segment for many users at once (campaign lists), atomically: one
   * transaction through the same write path as requests, unknown users registered (with their
   * automatic segments), removals opting users out, one history entry per real change.
   * Returns how many memberships really came and went (a re-add that only sets the expiry
   * counts 0). `expiry` applies to every add.
   */
  async changeSegmentMembers(slug: string, change: MembersChange, caller: Caller): Promise<{ added: number; removed: number }> {
    // In user id order, slice by slice: locks are taken in one order (no two bulk changes deadlock
    // on one PostgreSQL), and no slice holds the event loop long enough to stall other requests.
    const writes = memberWrites(slug, change, caller.actor).sort((a, b) => a.userId - b.userId);
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
    change: MembersChange,
    actor: string,
  ): Promise<{ added: number; removed: number }> {
    const segment = await this.segments.resolveActiveById(manager, segmentId);
    if (!segment) throw new NotFoundError(`Segment ${segmentId}`);
    return countChanges(await this.write(manager, memberWrites(segment.slug, change, actor), 'bulk'), segment.slug);
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
    const segments = await this.segments.resolveActive(manager, slugsOf(writes));
    const errors = rejectUnknown(writes, segments);
    const accepted = writes.filter((write) => !errors.has(write.userId)).map((write) => write.userId);
    const { created: createdIds, busy: busyIds } =
      kind === 'bulk'
        ? { created: await this.users.lockAndRegister(manager, accepted), busy: [] }
        : await this.users.lockAndRegisterUnlessBusy(manager, accepted);
    const created = new Set(createdIds);
    const busy = new Set(busyIds);

    const plan = planRows(writes, segments, (userId) => errors.has(userId) || busy.has(userId));
    const { removals, adds, slugOf, actorOf } = plan;
    // A change never adds and removes one slug (assertDistinctSlugs), so the adds are the other pairs it touches.
    const removed =
      removals.length + adds.length > 0
        ? await this.memberships.removeAndOptOut(manager, { removals, others: adds }, slugOf, 'manual', actorOf)
        : [];
    const added = adds.length > 0 ? await this.memberships.upsertManual(manager, adds, slugOf, actorOf) : [];
    // After the manual changes, so that what a new user's own request added or removed takes precedence.
    if (created.size > 0) await this.memberships.assignAuto(manager, [...created], await this.segments.lockAutoSegments(manager));
    const current: Map<number, UserSegment[]> =
      kind === 'requests' && plan.applied.length > 0
        ? await this.memberships.usersSegments(
            manager,
            plan.applied.map((write) => write.userId),
          )
        : new Map();
    return writeOutcomes(writes, { errors, busy, created, added, removed, current, slugOf });
  }
}
