/** Largest user id: ids travel as JSON numbers, which are exact up to 2^53 − 1 (a CHECK constraint enforces it too). */
export const MAX_USER_ID = Number.MAX_SAFE_INTEGER;
