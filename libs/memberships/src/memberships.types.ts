import type { MembershipSource } from './membership.entity.js';

/** One segment to add: permanent, or expiring after `ttlSeconds` or at `expiresAt`. */
export interface MembershipAdd {
  slug: string;
  ttlSeconds?: number;
  expiresAt?: Date;
}

export interface MembershipChangeRequest {
  add: MembershipAdd[];
  remove: string[];
}

/** Names of the request fields that carried `add` and `remove`, used in error messages. */
export interface MembershipChangeFields {
  add: string;
  remove: string;
}

export interface UserSegment {
  slug: string;
  expiresAt: Date | null;
  source: MembershipSource;
}

export interface MembershipChangeResult {
  userId: number;
  /** Slugs that really became memberships (re-adding an existing one only updates its expiry). */
  added: string[];
  /** Slugs that really stopped being memberships. */
  removed: string[];
  segments: UserSegment[];
}

export interface SegmentMember {
  userId: number;
  expiresAt: Date | null;
  source: MembershipSource;
}

export interface RegistrationResult {
  created: number;
  existing: number;
}

/** Longest accepted time-to-live: ten years (SPEC §4). */
export const MAX_TTL_SECONDS = 10 * 365.25 * 24 * 3600;
