import type { Membership } from './membership.entity.js';

/** One segment to add: permanent, or expiring after `ttlSeconds` or at `expiresAt`. */
export interface MembershipAdd {
  slug: string;
  ttlSeconds?: number;
  expiresAt?: Date;
}

export interface MembershipChangeRequest {
  add: MembershipAdd[];
  remove: string[];
  /** Expiry of the adds that name none of their own. */
  ttlSeconds?: number;
}

/** A user's membership as reads return it: the segment's slug beside the membership's expiry and source. */
export type UserSegment = Pick<Membership, 'expiresAt' | 'source'> & { slug: string };

export interface MembershipChangeResult {
  userId: number;
  /** Slugs that really became memberships (re-adding an existing one only updates its expiry). */
  added: string[];
  /** Slugs that really stopped being memberships. */
  removed: string[];
  segments: UserSegment[];
}

export type SegmentMember = Pick<Membership, 'userId' | 'expiresAt' | 'source'>;

export interface RegistrationResult {
  created: number;
  existing: number;
}

/** Longest accepted time-to-live: ten years. */
export const MAX_TTL_SECONDS = 10 * 365.25 * 24 * 3600;
