import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { decodeCursor, ProblemException, type ProblemFieldError } from '#libs/common';
import { queryRows } from '#libs/database';
import { HistorySubscriber, type HistoryOperation, type MembershipChange } from '#libs/history';
import { SegmentsService, type SegmentRef } from '#libs/segments';
import { UsersService } from '#libs/users';
import DataLoader from 'dataloader';
import { DataSource, type EntityManager } from 'typeorm';
import type {
  MembershipChangeFields,
  MembershipChangeRequest,
  MembershipChangeResult,
  RegistrationResult,
  SegmentMember,
  UserSegment,
} from './memberships.types.js';

const DEFAULT_FIELDS: MembershipChangeFields = { add: 'add', remove: 'remove' };

/** A membership is live until its expiry instant (data rule 6): every read applies this. */
const LIVE = '(m.expires_at IS NULL OR m.expires_at > now())';

/** Live segments of the given users, by user then slug: the one read of a user's segments. */
const USERS_SEGMENTS_SQL = `
  SELECT m.user_id AS "userId", s.slug, m.expires_at AS "expiresAt", m.source
  FROM memberships m JOIN segments s ON s.id = m.segment_id
  WHERE m.user_id = ANY($1::bigint[]) AND s.deleted_at IS NULL AND ${LIVE}
  ORDER BY m.user_id, s.slug`;

async function readUsersSegments(manager: EntityManager, userIds: readonly number[]): Promise<Map<number, UserSegment[]>> {
  const rows = await queryRows<UserSegment & { userId: number }>(manager, USERS_SEGMENTS_SQL, [userIds]);
  const byUser = new Map<number, UserSegment[]>();
  for (const { userId, ...segment } of rows) {
    const list = byUser.get(userId);
    if (list) list.push(segment);
    else byUser.set(userId, [segment]);
  }
  return byUser;
}

/**
 * The one place where memberships change on request (the bulk paths — rollouts, expiry,
 * purge — are its sibling services in this module). A request runs in one transaction that
 * first locks the user's row (registering the user when new), so requests for one user are
 * serialised and cannot deadlock on each other; every statement reports only the rows it
 * really changed (RETURNING), so no change is lost, applied twice or logged twice, also
 * against the bulk paths, which do not take the user lock.
 */
@Injectable()
export class MembershipsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersService,
    private readonly segments: SegmentsService,
    private readonly history: HistorySubscriber,
  ) {}

  /**
   * Adds and removes segments of one user atomically: when any slug is unknown nothing is
   * applied and the error names every unknown slug. A removal also opts the user out of the
   * segment's automatic assignment (it sticks); an add cancels such an opt-out.
   */
  async changeUserSegments(
    userId: number,
    request: MembershipChangeRequest,
    fields: MembershipChangeFields = DEFAULT_FIELDS,
  ): Promise<MembershipChangeResult> {
    assertDistinct(request, fields);
    return this.dataSource.transaction(async (manager) => {
      const registered = await this.users.lockForChange(manager, userId);
      const slugs = [...request.add.map((item) => item.slug), ...request.remove];
      const segments = await this.segments.resolveActive(manager, slugs);
      assertAllKnown(request, segments, fields);
      const idOf = (slug: string) => segments.get(slug)!.id;
      const slugOf = new Map([...segments.values()].map((segment) => [segment.id, segment.slug]));

      const deleted = await this.deleteAndOptOut(
        manager,
        userId,
        request.remove.map(idOf),
        [...segments.values()].map((segment) => segment.id),
      );
      const removed = deleted.filter((row) => !row.expired).map((row) => row.segment_id);
      const added = request.add.length ? await this.upsert(manager, userId, request, idOf) : [];
      const change = (segmentId: number, operation: HistoryOperation, reason: 'manual' | 'ttl', occurredAt?: Date): MembershipChange => ({
        userId,
        segmentId,
        slug: slugOf.get(segmentId)!,
        operation,
        reason,
        occurredAt,
      });
      // An expired membership that no sweep has removed yet is no membership: its removal is
      // logged at its expiry instant (before a re-add of the same segment below, a real add).
      this.history.record(manager, [
        ...deleted.filter((row) => row.expired).map((row) => change(row.segment_id, 'remove', 'ttl', row.expires_at!)),
        ...removed.map((segmentId) => change(segmentId, 'remove', 'manual')),
        ...added.map((segmentId) => change(segmentId, 'add', 'manual')),
      ]);
      // After the manual changes, so that what the request itself added or removed takes precedence.
      if (registered) await this.assignAutoSegments(manager, [userId]);

      return {
        userId,
        added: sortSlugs(added.map((id) => slugOf.get(id)!)),
        removed: sortSlugs(removed.map((id) => slugOf.get(id)!)),
        segments: await this.readUserSegments(manager, userId),
      };
    });
  }

  /** Registers one user (with its automatic segments); returns true when the user is new. */
  async registerUser(userId: number): Promise<boolean> {
    const { created } = await this.registerUsers([userId]);
    return created === 1;
  }

  /** Registers the ids that are new, giving each the automatic segments its buckets qualify for. */
  async registerUsers(userIds: number[]): Promise<RegistrationResult> {
    const created = await this.dataSource.transaction(async (manager) => {
      const ids = await this.users.registerMany(manager, userIds);
      await this.assignAutoSegments(manager, ids);
      return ids;
    });
    return { created: created.length, existing: new Set(userIds).size - created.length };
  }

  /** Registers a user under a new id that no known user has. */
  async registerNewUser(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const userId = await this.users.allocate(manager);
      await this.assignAutoSegments(manager, [userId]);
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
   * completed always sees it (data rule 7).
   */
  private readonly userSegmentsLoader = new DataLoader<number, UserSegment[]>(
    async (userIds) => {
      const byUser = await readUsersSegments(this.dataSource.manager, userIds);
      return userIds.map((userId) => byUser.get(userId) ?? []);
    },
    { cache: false, maxBatchSize: 256, batchScheduleFn: (run) => setImmediate(run) },
  );

  /** Live members of a segment by ascending user id, `limit + 1` rows (see toPage). */
  async segmentMembers(segmentId: number, limit: number, cursor?: string): Promise<SegmentMember[]> {
    const after = cursor === undefined ? 0 : decodeCursor<number>(cursor, 'number');
    return queryRows<SegmentMember>(
      this.dataSource.manager,
      `SELECT m.user_id AS "userId", m.expires_at AS "expiresAt", m.source
       FROM memberships m
       WHERE m.segment_id = $1 AND m.user_id > $2 AND ${LIVE}
       ORDER BY m.user_id LIMIT $3`,
      [segmentId, after, limit + 1],
    );
  }

  async countMembers(segmentId: number): Promise<number> {
    const [row] = await queryRows<{ count: number }>(
      this.dataSource.manager,
      `SELECT count(*) AS count FROM memberships m WHERE m.segment_id = $1 AND ${LIVE}`,
      [segmentId],
    );
    return row!.count;
  }

  /** Within a change's transaction, so the answer includes the change. */
  private async readUserSegments(manager: EntityManager, userId: number): Promise<UserSegment[]> {
    return (await readUsersSegments(manager, [userId])).get(userId) ?? [];
  }

  /**
   * Gives newly registered users the automatic segments their buckets qualify for (the same
   * rule as the rollout, computed by segment_bucket() in PostgreSQL).
   */
  private async assignAutoSegments(manager: EntityManager, userIds: number[]): Promise<void> {
    if (userIds.length === 0) return;
    const segments = await this.segments.lockAutoSegments(manager);
    if (segments.length === 0) return;
    const rows = await queryRows<{ user_id: number; segment_id: number }>(
      manager,
      `INSERT INTO memberships (user_id, segment_id, source)
       SELECT u.id, s.id, 'auto'
       FROM unnest($1::bigint[]) AS u (id) CROSS JOIN unnest($2::int[], $3::int[]) AS s (id, threshold)
       WHERE segment_bucket(s.id, u.id) < s.threshold
         AND NOT EXISTS (SELECT 1 FROM segment_opt_outs o WHERE o.user_id = u.id AND o.segment_id = s.id)
       ON CONFLICT DO NOTHING
       RETURNING user_id, segment_id`,
      [userIds, segments.map((segment) => segment.id), segments.map((segment) => segment.threshold)],
    );
    const slugOf = new Map(segments.map((segment) => [segment.id, segment.slug]));
    this.history.record(
      manager,
      rows.map((row) => ({
        userId: row.user_id,
        segmentId: row.segment_id,
        slug: slugOf.get(row.segment_id)!,
        operation: 'add',
        reason: 'auto',
      })),
    );
  }

  /**
   * One DELETE for both kinds of removal of the request: the memberships it removes (and
   * opts the user out of their automatic assignment), and the expired memberships of every
   * segment it names, which no sweep has removed yet.
   */
  private async deleteAndOptOut(
    manager: EntityManager,
    userId: number,
    removeIds: number[],
    touchedIds: number[],
  ): Promise<{ segment_id: number; expires_at: Date | null; expired: boolean }[]> {
    return queryRows(
      manager,
      `WITH opt_out AS (
         INSERT INTO segment_opt_outs (user_id, segment_id) SELECT $1, unnest($2::int[]) ON CONFLICT DO NOTHING
       )
       DELETE FROM memberships
       WHERE user_id = $1 AND (segment_id = ANY($2::int[]) OR (segment_id = ANY($3::int[]) AND expires_at <= now()))
       RETURNING segment_id, expires_at, coalesce(expires_at <= now(), false) AS expired`,
      [userId, removeIds, touchedIds],
    );
  }

  /**
   * Inserts the memberships that do not exist yet and sets the expiry of those that do
   * (re-adding sets the expiry to what the new request says). Returns the segment ids that
   * were really inserted.
   */
  private async upsert(
    manager: EntityManager,
    userId: number,
    request: MembershipChangeRequest,
    segmentIdOf: (slug: string) => number,
  ): Promise<number[]> {
    const rows = await queryRows<{ segment_id: number; inserted: boolean }>(
      manager,
      `WITH opt_in AS (DELETE FROM segment_opt_outs WHERE user_id = $1 AND segment_id = ANY($2::int[]))
       INSERT INTO memberships (user_id, segment_id, source, expires_at)
       SELECT $1, a.segment_id, 'manual', coalesce(a.expires_at, clock_timestamp() + a.ttl_seconds * interval '1 second')
       FROM unnest($2::int[], $3::timestamptz[], $4::int[]) AS a (segment_id, expires_at, ttl_seconds)
       ON CONFLICT (user_id, segment_id) DO UPDATE
         SET expires_at = EXCLUDED.expires_at, source = EXCLUDED.source
         WHERE memberships.expires_at IS DISTINCT FROM EXCLUDED.expires_at OR memberships.source <> EXCLUDED.source
       RETURNING segment_id, xmax = 0 AS inserted`,
      [
        userId,
        request.add.map((item) => segmentIdOf(item.slug)),
        request.add.map((item) => item.expiresAt ?? null),
        request.add.map((item) => item.ttlSeconds ?? null),
      ],
    );
    return rows.filter((row) => row.inserted).map((row) => row.segment_id);
  }
}

function sortSlugs(slugs: string[]): string[] {
  // Bytewise, like the database's COLLATE "C" ordering of slugs.
  return slugs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every slug of the request with the request field that carried it (`add[2]`). */
function listedSlugs(request: MembershipChangeRequest, fields: MembershipChangeFields): { slug: string; field: string }[] {
  return [
    ...request.add.map((item, index) => ({ slug: item.slug, field: `${fields.add}[${index}]` })),
    ...request.remove.map((slug, index) => ({ slug, field: `${fields.remove}[${index}]` })),
  ];
}

/** Rejects a slug listed twice, or both added and removed: the request would be ambiguous. */
function assertDistinct(request: MembershipChangeRequest, fields: MembershipChangeFields): void {
  const firstField = new Map<string, string>();
  const errors: ProblemFieldError[] = [];
  for (const { slug, field } of listedSlugs(request, fields)) {
    const first = firstField.get(slug);
    if (first === undefined) firstField.set(slug, field);
    else errors.push({ field, message: `segment "${slug}" is already listed at ${first}` });
  }
  if (errors.length > 0) throw ProblemException.validation(errors);
}

function assertAllKnown(request: MembershipChangeRequest, segments: Map<string, SegmentRef>, fields: MembershipChangeFields): void {
  const errors: ProblemFieldError[] = listedSlugs(request, fields)
    .filter(({ slug }) => !segments.has(slug))
    .map(({ slug, field }) => ({ field, message: `segment "${slug}" does not exist` }));
  if (errors.length > 0) {
    throw new ProblemException({
      type: 'unknown-segments',
      title: 'Unknown segments',
      status: 422,
      detail: `${errors.length} unknown segment${errors.length === 1 ? '' : 's'}; nothing was changed`,
      errors,
    });
  }
}
