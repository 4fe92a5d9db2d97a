/**
 * The one definition of a valid slug (mirrored by the `segments_slug_format` CHECK constraint):
 * 1–128 characters of A–Z a–z 0–9 _ - ., at least one of them a letter or digit (so `.` and
 * `..`, which no URL can carry as a path segment, are not slugs).
 */
export const SLUG_PATTERN = /^(?=[^A-Za-z0-9]*[A-Za-z0-9])[A-Za-z0-9_.-]{1,128}$/;
export const SLUG_MAX_LENGTH = 128;

export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG_PATTERN.test(value);
}

export const SLUG_RULE = 'must be 1-128 characters of A-Z a-z 0-9 _ - ., at least one a letter or digit';
