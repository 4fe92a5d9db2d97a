import { RepeatedSlugsError, type RepeatedSlug, type SlugPosition, type UnknownSlug } from '#libs/common';
import { EXPIRY_ACTOR, type HistoryReason, type MembershipChange } from '#libs/history';
import type { MembershipAdd, MembershipChangeRequest } from './memberships.types.js';

/** Every slug of a change with its position in the request. */
export function listedSlugs(request: MembershipChangeRequest): (SlugPosition & { slug: string })[] {
  return [
    ...request.add.map((item, index) => ({ list: 'add' as const, index, slug: item.slug })),
    ...request.remove.map((slug, index) => ({ list: 'remove' as const, index, slug })),
  ];
}

/** Rejects a slug listed twice, or both added and removed: the request would be ambiguous. */
export function assertDistinctSlugs(request: MembershipChangeRequest): void {
  const first = new Map<string, SlugPosition>();
  const repeated: RepeatedSlug[] = [];
  for (const { slug, list, index } of listedSlugs(request)) {
    const earlier = first.get(slug);
    if (earlier === undefined) first.set(slug, { list, index });
    else repeated.push({ slug, list, index, first: earlier });
  }
  if (repeated.length > 0) throw new RepeatedSlugsError(repeated);
}

/** The slugs of the request that `known` does not hold, with their positions. */
export function unknownSlugs(request: MembershipChangeRequest, known: ReadonlyMap<string, unknown>): UnknownSlug[] {
  return listedSlugs(request).filter(({ slug }) => !known.has(slug));
}

/** The expiry of an add: its own (`ttlSeconds` or `expiresAt`), else the request's default `ttlSeconds`, else none. */
export function expiryOf(add: MembershipAdd, defaultTtlSeconds: number | undefined): { ttlSeconds?: number; expiresAt?: Date } {
  if (add.expiresAt !== undefined) return { expiresAt: add.expiresAt };
  const ttlSeconds = add.ttlSeconds ?? defaultTtlSeconds;
  return ttlSeconds === undefined ? {} : { ttlSeconds };
}

/** A membership row as a statement that removed it reports it. */
export interface RemovedMembership {
  userId: number;
  segmentId: number;
  expiresAt: Date | null;
  /** It had expired already when it was removed (no sweep had got to it). */
  expired: boolean;
}

/**
 * The history entry of a removal by `actor`. A membership that had expired is no membership
 * since its expiry instant: whatever removed it, its removal is logged as the expiry's
 * (reason and actor `ttl`) at that instant.
 */
export function removalChange(row: RemovedMembership, slug: string, reason: HistoryReason, actor: string): MembershipChange {
  const removal = { userId: row.userId, segmentId: row.segmentId, slug, operation: 'remove' } as const;
  return row.expired ? { ...removal, reason: 'ttl', actor: EXPIRY_ACTOR, occurredAt: row.expiresAt! } : { ...removal, reason, actor };
}

/** Slugs sorted bytewise, like the database's COLLATE "C" ordering. */
export function sortSlugs(slugs: string[]): string[] {
  return slugs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
