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

  static validation(errors: ProblemFieldError[]): ProblemException {
    return new ProblemException(validationProblem(errors));
  }
}

export function validationProblem(errors: ProblemFieldError[]): ProblemDetails {
  return {
    type: 'validation-error',
    title: 'The request is invalid',
    status: 400,
    detail: `${errors.length} invalid field${errors.length === 1 ? '' : 's'}: ${errors.map((error) => error.field).join(', ')}`,
    errors,
  };
}
