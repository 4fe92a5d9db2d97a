/**
 * The conditions on a `segments` row that statements of other modules join on, each written
 * once. `alias` is the name the statement gives the table.
 */

/** The segment is active (not deleted). */
export const activeSegment = (alias: string) => `${alias}.deleted_at IS NULL`;

/** The segment is deleted and its memberships are not all removed yet (its purge is unfinished). */
export const purgingSegment = (alias: string) => `(${alias}.deleted_at IS NOT NULL AND ${alias}.purged_at IS NULL)`;
