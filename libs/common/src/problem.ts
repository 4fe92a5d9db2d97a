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
}

/** A failure that the API answers with the given problem details. Thrown by services and edges alike. */
export class ProblemException extends HttpException {
  constructor(readonly problem: ProblemDetails) {
    super(problem, problem.status);
  }

  static validation(errors: ProblemFieldError[]): ProblemException {
    return new ProblemException({
      type: 'validation-error',
      title: 'The request is invalid',
      status: 400,
      detail: `${errors.length} invalid field${errors.length === 1 ? '' : 's'}: ${errors.map((error) => error.field).join(', ')}`,
      errors,
    });
  }

  static notFound(what: string): ProblemException {
    return new ProblemException({ type: 'not-found', title: 'Not found', status: 404, detail: `${what} does not exist` });
  }

  static conflict(detail: string): ProblemException {
    return new ProblemException({ type: 'conflict', title: 'Conflict', status: 409, detail });
  }
}
