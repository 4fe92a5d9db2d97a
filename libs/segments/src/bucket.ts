import { createHash } from 'node:crypto';

/** Buckets per segment: a bucket is a hundredth of a percent. */
export const BUCKETS = 10_000;

/**
 * The bucket of a user for a segment, 0 … 9999 (hundredths of a percent): the first 32 bits
 * of md5("<segment id>:<user id>") read as an unsigned integer, modulo 10 000.
 *
 * Every write path computes it in PostgreSQL (`segment_bucket()`, created by a migration);
 * this is the same function for clients that want to predict an assignment, kept equal to
 * the SQL one by a test.
 */
export function segmentBucket(segmentId: number, userId: number): number {
  return createHash('md5').update(`${segmentId}:${userId}`).digest().readUInt32BE(0) % BUCKETS;
}

/**
 * auto_percent (0–100, two decimals) as a bucket threshold: a user is in the segment when
 * its bucket is below the threshold. Null (manual-only) selects nobody.
 */
export function thresholdOf(autoPercent: number | null): number {
  return Math.round((autoPercent ?? 0) * (BUCKETS / 100));
}
