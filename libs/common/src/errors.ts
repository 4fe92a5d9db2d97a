/**
 * Domain errors: what the libraries raise when a request cannot be carried out. They name
 * the offending items in domain terms; only the HTTP edge (libs/http) turns them into
 * statuses, problem types and request field names.
 */
export abstract class DomainError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/** Where a slug stands in a membership change: `add[index]` or `remove[index]`. */
export interface SlugPosition {
  list: 'add' | 'remove';
  index: number;
}

export interface UnknownSlug extends SlugPosition {
  slug: string;
}

export interface RepeatedSlug extends SlugPosition {
  slug: string;
  /** Where the slug was listed first. */
  first: SlugPosition;
}

/** A membership change names segments that do not exist (or were deleted); nothing was applied. */
export class UnknownSegmentsError extends DomainError {
  constructor(readonly slugs: UnknownSlug[]) {
    super(`${slugs.length} unknown segment${slugs.length === 1 ? '' : 's'}: ${slugs.map((item) => item.slug).join(', ')}`);
  }
}

/** A membership change lists a slug twice, or both adds and removes it: it would be ambiguous. */
export class RepeatedSlugsError extends DomainError {
  constructor(readonly slugs: RepeatedSlug[]) {
    super(`segments listed more than once: ${slugs.map((item) => item.slug).join(', ')}`);
  }
}

/** The same user id is both added to and removed from a segment in one bulk change. */
export class RepeatedUserIdsError extends DomainError {
  constructor(readonly userIds: { userId: number; index: number }[]) {
    super(`user ids both added and removed: ${userIds.map((item) => item.userId).join(', ')}`);
  }
}

export class NotFoundError extends DomainError {
  constructor(
    /** What was looked for, e.g. `Segment "AVITO_VOICE_MESSAGES"`. */
    readonly what: string,
  ) {
    super(`${what} does not exist`);
  }
}

/** The request conflicts with the current state (e.g. an active segment already has the slug). */
export class ConflictError extends DomainError {}

/** A pagination or feed cursor that this service did not issue, or that no longer decodes to a position. */
export class InvalidCursorError extends DomainError {
  constructor(readonly parameter = 'cursor') {
    super(`${parameter} is not a cursor issued by this service`);
  }
}

/** A change-feed cursor older than the retained history: the consumer must start again. */
export class CursorExpiredError extends DomainError {}

/** A report was asked for a month that has not started yet. */
export class FutureMonthError extends DomainError {
  constructor(
    readonly year: number,
    readonly month: number,
  ) {
    super(`${year}-${String(month).padStart(2, '0')} is in the future`);
  }
}

/** A report link that was not issued by this service, or was altered. */
export class InvalidReportLinkError extends DomainError {
  constructor() {
    super('The link was not issued by this service or was altered');
  }
}

export class ReportLinkExpiredError extends DomainError {
  constructor() {
    super('Request a new report link');
  }
}

/** No free user id was found in a few attempts (other registrations kept taking them); the request may be retried. */
export class IdAllocationError extends DomainError {
  constructor() {
    super('Could not allocate a user id: every candidate was taken meanwhile; retry the request');
  }
}

/** Why a request was not authenticated (also the label of the failed-authentication metric). */
export type AuthFailure = 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired';

/** The request carries no valid API token. */
export class UnauthenticatedError extends DomainError {
  constructor(readonly reason: AuthFailure) {
    super(
      {
        missing: 'An Authorization: Bearer <token> header is required',
        malformed: 'The Authorization header is not "Bearer <token>"',
        unknown: 'The token is not known',
        revoked: 'The token was revoked',
        expired: 'The token has expired',
      }[reason],
    );
  }
}

/** The token is valid but lacks the scope the operation needs. */
export class ForbiddenError extends DomainError {
  constructor(readonly required: string) {
    super(`This operation needs a token with scope "${required}"`);
  }
}

/** This instance serves as many change-feed streams as it may; another instance (or a retry) can take it. */
export class StreamLimitError extends DomainError {
  constructor(readonly limit: number) {
    super(`This instance already serves ${limit} change-feed streams; retry later or elsewhere`);
  }
}

/** A request body larger than the route accepts (a streamed upload, checked as it arrives). */
export class PayloadTooLargeError extends DomainError {}

/** Something the service depends on (PostgreSQL, Redis) does not answer; the request may be retried. */
export class DependencyUnavailableError extends DomainError {
  constructor(
    readonly dependency: 'database' | 'redis',
    options?: ErrorOptions,
  ) {
    super(`${dependency === 'database' ? 'PostgreSQL' : 'Redis'} is unavailable`, options);
  }
}

/** The process cannot serve requests: `down` names each dependency check that failed (database, migrations, redis). */
export class NotReadyError extends DomainError {
  constructor(readonly down: string[]) {
    super(`Down: ${down.join(', ')}`);
  }
}
