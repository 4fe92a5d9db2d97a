import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { cursorInteger, decodeCursor } from '#libs/common';
import { DataSource } from 'typeorm';
import { MembershipsRepository } from './memberships.repository.js';
import type { SegmentMember, UserSegment } from './memberships.types.js';
import { ReadBatcher } from './read-batcher.js';

/** Read queries of the hot path running at once per process. */
const READS_IN_FLIGHT = 2;
/** Users per read query: a lookup of the most users allowed (1 000) fits in one. */
const READ_BATCH_MAX_USERS = 1_000;

/** Position in a segment's member list (by user id), as a cursor holds it. */
export const memberCursorKey = (member: SegmentMember): [number] => [member.userId];
const parseMemberCursor = (values: unknown[]) => (values.length === 1 ? cursorInteger(values[0]) : undefined);

/** Reads of live memberships: a user's segments (the hot path), lookups of many users, a segment's members. */
@Injectable()
export class MembershipReadsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly memberships: MembershipsRepository,
  ) {}

  /**
   * The hot read path: reads (a GET's user, a lookup's users) that arrive together are
   * answered by one prepared query (`user_id = ANY(…)`, see ReadBatcher), at most
   * READS_IN_FLIGHT at once per process, so under load queries grow instead of multiplying.
   */
  private readonly reads = new ReadBatcher((userIds) => this.memberships.usersSegments(this.dataSource.manager, userIds), {
    concurrency: READS_IN_FLIGHT,
    maxKeys: READ_BATCH_MAX_USERS,
  });

  /** The live segments of every user asked for, in the order asked (unknown users: none), from one query of the hot read path. */
  async lookUp(userIds: number[]): Promise<{ userId: number; segments: UserSegment[] }[]> {
    const byUser = await this.reads.read([...new Set(userIds)]);
    return userIds.map((userId) => ({ userId, segments: byUser.get(userId) ?? [] }));
  }

  /** The user's live segments, sorted by slug; empty for a user the service never saw. */
  async userSegments(userId: number): Promise<UserSegment[]> {
    return (await this.reads.read([userId])).get(userId) ?? [];
  }

  /** Live members of a segment by ascending user id, `limit + 1` rows (see toPage with memberCursorKey). */
  segmentMembers(segmentId: number, limit: number, cursor?: string): Promise<SegmentMember[]> {
    const after = cursor === undefined ? 0 : decodeCursor(cursor, parseMemberCursor);
    return this.memberships.segmentMembers(segmentId, after, limit + 1);
  }

  countMembers(segmentId: number): Promise<number> {
    return this.memberships.countMembers(segmentId);
  }
}
