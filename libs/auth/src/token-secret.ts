import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every secret starts with this, so secret scanners (and people) recognise a leaked token. */
export const TOKEN_PREFIX = 'seg_';

/** A new secret: the prefix and 32 random bytes in base64url (43 characters). */
export function newSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What is stored and looked up: the SHA-256 digest of the secret (secrets are random, so no salt or slow hash is needed). */
export function digestOf(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time equality of two digests. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
