/**
 * The conditions on a `memberships` row, each written once, for every statement that reads
 * memberships (this module's repository and the imports'). `m` is the name the statement gives
 * the table.
 */

/** The one definition of expiry: a membership is live until its expiry instant, by the database clock. */
export const expiredMembership = (m: string) => `(${m}.expires_at <= now())`;

/** A membership without an expiry, or whose expiry instant is still ahead. */
export const liveMembership = (m: string) => `NOT coalesce(${expiredMembership(m)}, false)`;
