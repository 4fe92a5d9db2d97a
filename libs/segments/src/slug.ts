/** The one definition of a valid slug (mirrored by the `segments_slug_format` CHECK constraint). */
export const SLUG_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
export const SLUG_MAX_LENGTH = 128;

export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG_PATTERN.test(value);
}

export const SLUG_RULE = 'must be 1-128 characters of A-Z a-z 0-9 _ - .';
