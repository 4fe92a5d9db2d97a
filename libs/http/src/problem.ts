import { HttpException } from '@nestjs/common';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One bad field or item of a request, named by its path in the request (`add[2].slug`, `user_id`). */
export interface ProblemFieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details as this service writes them. */
export interface ProblemDetails {
  /** Short problem kind; written out as the URI `/problems/<type>` (or `about:blank`). */
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: ProblemFieldError[];
  /** Response headers that go with the problem (`Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

/** A failure the HTTP edge answers with exactly these problem details (request parsing, validation, health). */
export class ProblemException extends HttpException {
  constructor(readonly problem: ProblemDetails) {
    super(problem, problem.status);
  }

  static validation(errors: ProblemFieldError[], total = errors.length): ProblemException {
    return new ProblemException(validationProblem(errors, total));
  }
}

/** Most bad fields or items one problem lists: a bulk body may hold 100 000 bad ids, the detail says how many there were. */
export const MAX_LISTED_ERRORS = 100;

/** A 400 naming every bad field or item of `errors`, the first MAX_LISTED_ERRORS of them if there are more; `total` counts them all. */
export function validationProblem(errors: ProblemFieldError[], total = errors.length): ProblemDetails {
  const listed = errors.slice(0, MAX_LISTED_ERRORS);
  const first = listed.length < total ? ` (the first ${listed.length} listed)` : '';
  return {
    type: 'validation-error',
    title: 'The request is invalid',
    status: 400,
    detail: `${total} invalid field${total === 1 ? '' : 's'}${first}: ${listed.map((error) => error.field).join(', ')}`,
    errors: listed,
  };
}
