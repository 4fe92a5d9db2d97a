import { createHash } from 'node:crypto';

/**
 * The bucket of a user for a segment, 0 … 9999 (hundredths of a percent): the first 32 bits
 * of md5("<segment id>:<user id>") read as an unsigned integer, modulo 10 000. A user is in
 * a segment with auto_percent p when bucket < p × 100.
 *
 * Every write path computes it in PostgreSQL (`segment_bucket()`, created by a migration);
 * this is the same function for clients that want to predict an assignment, kept equal to
 * the SQL one by a test.
 */
export function segmentBucket(segmentId: number, userId: number): number {
  return createHash('md5').update(`${segmentId}:${userId}`).digest().readUInt32BE(0) % 10_000;
}
