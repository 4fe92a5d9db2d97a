import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { decodeCursor, ProblemException, type ProblemFieldError } from '#libs/common';
import { queryRows } from '#libs/database';
import { HistorySubscriber, type HistoryOperation, type MembershipChange } from '#libs/history';
import { SegmentsService, type SegmentRef } from '#libs/segments';
import { UsersService } from '#libs/users';
import { DataSource, type EntityManager } from 'typeorm';
import type { MembershipSource } from './membership.entity.js';
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

const USER_SEGMENTS_SQL = `
  SELECT s.slug, m.expires_at AS "expiresAt", m.source
  FROM memberships m JOIN segments s ON s.id = m.segment_id
  WHERE m.user_id = $1 AND s.deleted_at IS NULL AND ${LIVE}
  ORDER BY s.slug`;

/**
 * The one place where memberships change. Every change runs in one transaction that
 * first locks the user's row (registering the user when new), so changes of one user
 * are serialised: the diff computed below is exact, no change is lost or applied twice,
 * and concurrent requests cannot deadlock on each other.
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
   * applied and the error names every unknown slug.
   */
  async changeUserSegments(
    userId: number,
    request: MembershipChangeRequest,
    fields: MembershipChangeFields = DEFAULT_FIELDS,
  ): Promise<MembershipChangeResult> {
    assertDistinct(request, fields);
    return this.dataSource.transaction(async (manager) => {
      await this.users.lockForChange(manager, userId);
      const slugs = [...request.add.map((item) => item.slug), ...request.remove];
      const segments = await this.segments.resolveActive(manager, slugs);
      assertAllKnown(request, segments, fields);
      const idOf = (slug: string) => segments.get(slug)!.id;
      const slugOf = new Map([...segments.values()].map((segment) => [segment.id, segment.slug]));

      // An expired membership that no sweep has removed yet is no membership: its removal is
      // applied first (at its expiry instant), so a re-add below is a real add.
      await this.deleteExpired(manager, userId, [...segments.keys()].map(idOf), slugOf);
      const removed = request.remove.length ? await this.delete(manager, userId, request.remove.map(idOf)) : [];
      const added = request.add.length ? await this.upsert(manager, userId, 'manual', request, idOf) : [];
      const change =
        (operation: HistoryOperation) =>
        (segmentId: number): MembershipChange => ({
          userId,
          segmentId,
          slug: slugOf.get(segmentId)!,
          operation,
          reason: 'manual',
        });
      this.history.record(manager, [...removed.map(change('remove')), ...added.map(change('add'))]);

      return {
        userId,
        added: sortSlugs(added.map((id) => slugOf.get(id)!)),
        removed: sortSlugs(removed.map((id) => slugOf.get(id)!)),
        segments: await this.readUserSegments(manager, userId),
      };
    });
  }

  /** Registers one user; returns true when the user is new. */
  async registerUser(userId: number): Promise<boolean> {
    const created = await this.dataSource.transaction((manager) => this.users.registerMany(manager, [userId]));
    return created.length > 0;
  }

  async registerUsers(userIds: number[]): Promise<RegistrationResult> {
    const created = await this.dataSource.transaction((manager) => this.users.registerMany(manager, userIds));
    return { created: created.length, existing: new Set(userIds).size - created.length };
  }

  /** Registers a user under a new id that no known user has. */
  async registerNewUser(): Promise<number> {
    return this.dataSource.transaction((manager) => this.users.allocate(manager));
  }

  /** The user's live segments, sorted by slug; empty for a user the service never saw. */
  async userSegments(userId: number): Promise<UserSegment[]> {
    return this.readUserSegments(this.dataSource.manager, userId);
  }

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

  private readUserSegments(manager: EntityManager, userId: number): Promise<UserSegment[]> {
    return queryRows<UserSegment>(manager, USER_SEGMENTS_SQL, [userId]);
  }

  /** Deletes the user's memberships of these segments; returns the segment ids that were memberships. */
  private async delete(manager: EntityManager, userId: number, segmentIds: number[]): Promise<number[]> {
    const rows = await queryRows<{ segment_id: number }>(
      manager,
      'DELETE FROM memberships WHERE user_id = $1 AND segment_id = ANY($2::int[]) RETURNING segment_id',
      [userId, segmentIds],
    );
    return rows.map((row) => row.segment_id);
  }

  private async deleteExpired(manager: EntityManager, userId: number, segmentIds: number[], slugOf: Map<number, string>): Promise<void> {
    const expired = await queryRows<{ segment_id: number; expires_at: Date }>(
      manager,
      'DELETE FROM memberships WHERE user_id = $1 AND segment_id = ANY($2::int[]) AND expires_at <= now() RETURNING segment_id, expires_at',
      [userId, segmentIds],
    );
    this.history.record(
      manager,
      expired.map((row) => ({
        userId,
        segmentId: row.segment_id,
        slug: slugOf.get(row.segment_id)!,
        operation: 'remove',
        reason: 'ttl',
        occurredAt: row.expires_at,
      })),
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
    source: MembershipSource,
    request: MembershipChangeRequest,
    segmentIdOf: (slug: string) => number,
  ): Promise<number[]> {
    const rows = await queryRows<{ segment_id: number; inserted: boolean }>(
      manager,
      `INSERT INTO memberships (user_id, segment_id, source, expires_at)
       SELECT $1, a.segment_id, $2, coalesce(a.expires_at, clock_timestamp() + a.ttl_seconds * interval '1 second')
       FROM unnest($3::int[], $4::timestamptz[], $5::int[]) AS a (segment_id, expires_at, ttl_seconds)
       ON CONFLICT (user_id, segment_id) DO UPDATE
         SET expires_at = EXCLUDED.expires_at, source = EXCLUDED.source
         WHERE memberships.expires_at IS DISTINCT FROM EXCLUDED.expires_at OR memberships.source <> EXCLUDED.source
       RETURNING segment_id, xmax = 0 AS inserted`,
      [
        userId,
        source,
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
