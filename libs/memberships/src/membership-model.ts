import {
  ConflictError,
  NotFoundError,
  RepeatedSlugsError,
  RepeatedUserIdsError,
  UnknownSegmentsError,
  type RepeatedSlug,
  type SlugPosition,
  type UnknownSlug,
} from '#libs/common';
import { AUTOMATIC_ACTOR, EXPIRY_ACTOR } from '#libs/history';
import { segmentBucket, thresholdOf } from '#libs/segments';

/**
 * An executable model of the membership rules (SPEC §2, §4, §5, §6): segments, users,
 * memberships with optional expiry, opt-outs and history, in memory, written for clarity
 * rather than speed. It is the oracle of the property tests: the unit tier checks the rules
 * on it (membership-model.spec.ts), the service tier runs random operation sequences against
 * the real service and this model and compares what they say (test/services/membership-model.spec.ts).
 *
 * Time is the model's own clock in milliseconds (`now`), moved by `advance`. A membership
 * is live strictly before its expiry instant: at the instant it is gone (`expires_at <= now()`
 * in the repository). An expired membership stays stored until the expiry sweep (`sweep`),
 * the purge of its segment, or a change of its user that touches it removes it; whichever does
 * logs it as its `ttl` removal at the expiry instant. Reads never show it.
 */

export type ModelReason = 'manual' | 'auto' | 'ttl' | 'segment_deleted';
export type ModelSource = 'manual' | 'auto';

export interface ModelSegment {
  id: number;
  slug: string;
  /** Bucket threshold (see thresholdOf): 0 for a manual-only segment. */
  threshold: number;
  deleted: boolean;
}

export interface ModelMembership {
  source: ModelSource;
  /** Expiry instant (model clock), null when permanent. */
  expiresAt: number | null;
}

export interface ModelEntry {
  userId: number;
  segmentId: number;
  slug: string;
  operation: 'add' | 'remove';
  reason: ModelReason;
  actor: string;
  /** Model clock; for an expiry, its instant. */
  at: number;
}

/** What a read shows: live memberships of active segments, by slug. */
export interface ModelUserSegment {
  slug: string;
  source: ModelSource;
  expiresAt: number | null;
}

/** One segment to add: permanent, or expiring `ttlMs` after now, or at `expiresAt`. */
export interface ModelAdd {
  slug: string;
  ttlMs?: number;
  expiresAt?: number;
}

export interface ModelChange {
  add: ModelAdd[];
  remove: string[];
  /** Default time to live of the adds that name no expiry of their own. */
  ttlMs?: number;
}

export interface ModelChangeResult {
  added: string[];
  removed: string[];
  segments: ModelUserSegment[];
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MembershipModel {
  now = 0;
  readonly users = new Set<number>();
  /** Every segment ever created, deleted ones included, by id. */
  readonly segments = new Map<number, ModelSegment>();
  /** Stored memberships (expired ones until something removes them), by user then segment id. */
  private readonly memberships = new Map<number, Map<number, ModelMembership>>();
  /** `user:segment` pairs whose explicit removal sticks against automatic assignment. */
  private readonly optOuts = new Set<string>();
  readonly history: ModelEntry[] = [];
  private nextSegmentId = 1;

  // ---- segments --------------------------------------------------------------------------

  /** Creates a segment (id given by the caller, or the next one); with a percent, its rollout runs to completion. */
  createSegment(slug: string, options: { autoPercent?: number | null; id?: number } = {}): ModelSegment {
    if (this.activeSegment(slug)) throw new ConflictError(`An active segment with slug "${slug}" already exists`);
    const id = options.id ?? this.nextSegmentId;
    if (this.segments.has(id)) throw new Error(`model: segment id ${id} is taken`);
    this.nextSegmentId = Math.max(this.nextSegmentId, id + 1);
    const segment: ModelSegment = { id, slug, threshold: thresholdOf(options.autoPercent ?? null), deleted: false };
    this.segments.set(id, segment);
    if (options.autoPercent !== undefined && options.autoPercent !== null) this.rollout(segment);
    return segment;
  }

  /** A new auto_percent (null: manual only); the rollout runs to completion. */
  setAutoPercent(slug: string, autoPercent: number | null): void {
    const segment = this.activeSegment(slug);
    if (!segment) throw new NotFoundError(`Segment "${slug}"`);
    segment.threshold = thresholdOf(autoPercent);
    this.rollout(segment);
  }

  /** Deletes the segment and purges its memberships (removals by `actor`, expired ones as their expiry) and its opt-outs. */
  deleteSegment(slug: string, actor: string): void {
    const segment = this.activeSegment(slug);
    if (!segment) throw new NotFoundError(`Segment "${slug}"`);
    segment.deleted = true;
    for (const userId of [...this.memberships.keys()].sort((a, b) => a - b)) {
      const membership = this.stored(userId, segment.id);
      if (membership) this.removeStored(userId, segment, membership, 'segment_deleted', actor);
    }
    for (const key of [...this.optOuts]) if (key.endsWith(`:${segment.id}`)) this.optOuts.delete(key);
  }

  activeSegment(slug: string): ModelSegment | undefined {
    for (const segment of this.segments.values()) if (!segment.deleted && segment.slug === slug) return segment;
    return undefined;
  }

  // ---- users and memberships ---------------------------------------------------------------

  /** Registers a user (with the automatic segments it is eligible for); true when it is new. */
  registerUser(userId: number): boolean {
    if (this.users.has(userId)) return false;
    this.users.add(userId);
    this.assignAuto(userId);
    return true;
  }

  /**
   * Adds and removes segments of one user, atomically: a slug listed twice (or both added and
   * removed), or any unknown slug, rejects the whole change naming every bad item, and nothing
   * happens (the user is not even registered).
   */
  changeUserSegments(userId: number, change: ModelChange, actor: string): ModelChangeResult {
    const listed = [
      ...change.add.map((add, index) => ({ list: 'add' as const, index, slug: add.slug })),
      ...change.remove.map((slug, index) => ({ list: 'remove' as const, index, slug })),
    ];
    const first = new Map<string, SlugPosition>();
    const repeated: RepeatedSlug[] = [];
    for (const { slug, list, index } of listed) {
      const earlier = first.get(slug);
      if (earlier) repeated.push({ slug, list, index, first: earlier });
      else first.set(slug, { list, index });
    }
    if (repeated.length > 0) throw new RepeatedSlugsError(repeated);
    const unknown: UnknownSlug[] = listed.filter(({ slug }) => !this.activeSegment(slug));
    if (unknown.length > 0) throw new UnknownSegmentsError(unknown);
    const result = this.apply(userId, change, actor);
    return { ...result, segments: this.userSegments(userId) };
  }

  /**
   * Adds and removes one segment for many users at once, atomically: a user both added and
   * removed is RepeatedUserIdsError naming each (by its index in `remove`), then an unknown
   * segment NotFoundError; nothing happens then. Counts the memberships that came and went.
   */
  changeSegmentMembers(
    slug: string,
    change: { add: number[]; remove: number[]; ttlMs?: number; expiresAt?: number },
    actor: string,
  ): { added: number; removed: number } {
    // An ambiguous request is refused before the segment is looked up.
    const adding = new Set(change.add);
    const both = change.remove.flatMap((userId, index) => (adding.has(userId) ? [{ userId, index }] : []));
    if (both.length > 0) throw new RepeatedUserIdsError(both);
    if (!this.activeSegment(slug)) throw new NotFoundError(`Segment "${slug}"`);
    let added = 0;
    let removed = 0;
    for (const userId of [...adding].sort((a, b) => a - b)) {
      added += this.apply(userId, { add: [{ slug, ttlMs: change.ttlMs, expiresAt: change.expiresAt }], remove: [] }, actor).added.length;
    }
    for (const userId of [...new Set(change.remove)].sort((a, b) => a - b)) {
      removed += this.apply(userId, { add: [], remove: [slug] }, actor).removed.length;
    }
    return { added, removed };
  }

  /** The user's live memberships of active segments, sorted by slug (bytewise): what every read returns. */
  userSegments(userId: number): ModelUserSegment[] {
    const result: ModelUserSegment[] = [];
    for (const [segmentId, membership] of this.memberships.get(userId) ?? []) {
      const segment = this.segments.get(segmentId)!;
      if (!segment.deleted && this.live(membership)) result.push({ slug: segment.slug, ...membership });
    }
    return result.sort((a, b) => byteOrder(a.slug, b.slug));
  }

  /** Live members of an active segment, ascending. */
  members(slug: string): number[] {
    const segment = this.activeSegment(slug);
    if (!segment) return [];
    return [...this.memberships.entries()]
      .filter(([, segments]) => {
        const membership = segments.get(segment.id);
        return membership !== undefined && this.live(membership);
      })
      .map(([userId]) => userId)
      .sort((a, b) => a - b);
  }

  /** Whether the user's membership of the active segment has expired but is still stored (no sweep or change removed it yet). */
  lapsed(userId: number, slug: string): boolean {
    const segment = this.activeSegment(slug);
    const membership = segment && this.stored(userId, segment.id);
    return membership !== undefined && !this.live(membership);
  }

  /** Whether the user has opted out of the segment's automatic assignment (an explicit removal). */
  optedOut(userId: number, slug: string): boolean {
    const segment = this.activeSegment(slug);
    return segment !== undefined && this.optOuts.has(`${userId}:${segment.id}`);
  }

  /** The percent rule: the user's bucket for the segment is below its threshold. */
  selected(userId: number, segment: ModelSegment): boolean {
    return segmentBucket(segment.id, userId) < segment.threshold;
  }

  /** Automatic eligibility: selected and not opted out. */
  eligible(userId: number, segment: ModelSegment): boolean {
    return this.selected(userId, segment) && !this.optOuts.has(`${userId}:${segment.id}`);
  }

  /** The user's history in the order it was written. */
  userHistory(userId: number): ModelEntry[] {
    return this.history.filter((entry) => entry.userId === userId);
  }

  // ---- time --------------------------------------------------------------------------------

  advance(ms: number): void {
    this.now += ms;
  }

  /**
   * The expiry sweep: removes every expired membership of an active segment, logged at its
   * instant, and gives automatic segments back the users they select; returns how many it removed.
   */
  sweep(): number {
    let removed = 0;
    for (const userId of [...this.memberships.keys()].sort((a, b) => a - b)) {
      for (const [segmentId, membership] of [...this.memberships.get(userId)!]) {
        const segment = this.segments.get(segmentId)!;
        if (segment.deleted || this.live(membership)) continue;
        this.removeStored(userId, segment, membership, 'ttl', EXPIRY_ACTOR);
        removed++;
        // An automatic segment takes back a user it selects (SPEC §5), unless they opted out.
        if (segment.threshold > 0 && this.eligible(userId, segment)) {
          this.store(userId, segment, { source: 'auto', expiresAt: null }, 'auto', AUTOMATIC_ACTOR);
        }
      }
    }
    return removed;
  }

  /** Live strictly before the expiry instant. */
  live(membership: ModelMembership): boolean {
    return membership.expiresAt === null || this.now < membership.expiresAt;
  }

  // ---- the write path ----------------------------------------------------------------------

  /** A validated change of one user: removals (opting out), then adds (opting in), then, for a new user, its automatic segments. */
  private apply(userId: number, change: ModelChange, actor: string): { added: string[]; removed: string[] } {
    const created = !this.users.has(userId);
    this.users.add(userId);
    const added: string[] = [];
    const removed: string[] = [];
    for (const slug of change.remove) {
      const segment = this.activeSegment(slug)!;
      this.optOuts.add(`${userId}:${segment.id}`);
      const membership = this.stored(userId, segment.id);
      // Removing a membership that had expired logs its expiry, and is no removal of this request.
      if (membership && this.removeStored(userId, segment, membership, 'manual', actor)) removed.push(slug);
    }
    for (const add of change.add) {
      const segment = this.activeSegment(add.slug)!;
      this.optOuts.delete(`${userId}:${segment.id}`);
      const expiresAt =
        add.expiresAt ?? (add.ttlMs !== undefined ? this.now + add.ttlMs : change.ttlMs !== undefined ? this.now + change.ttlMs : null);
      const existing = this.stored(userId, segment.id);
      // A re-add of an expired membership is a new add: the expiry's removal is logged first, at its instant.
      if (existing && !this.live(existing)) this.removeStored(userId, segment, existing, 'ttl', EXPIRY_ACTOR);
      const current = this.stored(userId, segment.id);
      if (current) {
        // Re-adding sets the expiry to what the request says, and makes the membership manual: no history.
        current.expiresAt = expiresAt;
        current.source = 'manual';
      } else {
        this.store(userId, segment, { source: 'manual', expiresAt }, 'manual', actor);
        added.push(add.slug);
      }
    }
    if (created) this.assignAuto(userId);
    return { added: added.sort(byteOrder), removed: removed.sort(byteOrder) };
  }

  /** A new user gets every active automatic segment it is eligible for and has no membership of. */
  private assignAuto(userId: number): void {
    for (const segment of [...this.segments.values()].sort((a, b) => a.id - b.id)) {
      if (segment.deleted || segment.threshold === 0) continue;
      if (this.eligible(userId, segment) && !this.stored(userId, segment.id)) {
        this.store(userId, segment, { source: 'auto', expiresAt: null }, 'auto', AUTOMATIC_ACTOR);
      }
    }
  }

  /**
   * A completed rollout: every registered user that is eligible and holds no membership row
   * (an expired one not yet removed counts as one) becomes an automatic member; automatic
   * members it no longer selects leave. Manual memberships are never touched.
   */
  private rollout(segment: ModelSegment): void {
    for (const userId of [...this.users].sort((a, b) => a - b)) {
      const membership = this.stored(userId, segment.id);
      if (!membership && this.eligible(userId, segment)) {
        this.store(userId, segment, { source: 'auto', expiresAt: null }, 'auto', AUTOMATIC_ACTOR);
      } else if (membership?.source === 'auto' && !this.selected(userId, segment)) {
        this.removeStored(userId, segment, membership, 'auto', AUTOMATIC_ACTOR);
      }
    }
  }

  private stored(userId: number, segmentId: number): ModelMembership | undefined {
    return this.memberships.get(userId)?.get(segmentId);
  }

  private store(userId: number, segment: ModelSegment, membership: ModelMembership, reason: ModelReason, actor: string): void {
    let segments = this.memberships.get(userId);
    if (!segments) this.memberships.set(userId, (segments = new Map()));
    segments.set(segment.id, membership);
    this.history.push({ userId, segmentId: segment.id, slug: segment.slug, operation: 'add', reason, actor, at: this.now });
  }

  /**
   * Removes a stored membership with its one history entry; one that had expired is logged as
   * its expiry at its instant, whatever removed it. Returns whether it was live (a real removal
   * by this cause).
   */
  private removeStored(userId: number, segment: ModelSegment, membership: ModelMembership, reason: ModelReason, actor: string): boolean {
    this.memberships.get(userId)!.delete(segment.id);
    const live = this.live(membership);
    this.history.push({
      userId,
      segmentId: segment.id,
      slug: segment.slug,
      operation: 'remove',
      ...(live ? { reason, actor, at: this.now } : { reason: 'ttl' as const, actor: EXPIRY_ACTOR, at: membership.expiresAt! }),
    });
    return live;
  }
}
