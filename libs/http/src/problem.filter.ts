import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import {
  ConflictError,
  CursorExpiredError,
  DependencyUnavailableError,
  DomainError,
  ForbiddenError,
  FutureMonthError,
  IdAllocationError,
  InvalidCursorError,
  InvalidReportLinkError,
  NotFoundError,
  NotReadyError,
  PayloadTooLargeError,
  RepeatedSlugsError,
  RepeatedUserIdsError,
  StreamLimitError,
  ReportLinkExpiredError,
  UnauthenticatedError,
  UnknownSegmentsError,
  type SlugPosition,
} from '#libs/common';
import { databaseRejection, isDatabaseUnavailable } from '#libs/database';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { BodyError } from './json-body.js';
import { PROBLEM_CONTENT_TYPE, ProblemException, validationProblem, type ProblemDetails } from './problem.js';

/** Request field names of a membership change's two slug lists, per API shape (`add_segments` in the original API). */
export interface SlugListNames {
  add: string;
  remove: string;
}

export const SLUG_LISTS: SlugListNames = { add: 'add', remove: 'remove' };

/** Seconds a client should wait before retrying a request that failed because a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

/** The protection space of the bearer challenges (RFC 6750). */
const REALM = 'segmentation';

const INTERNAL_DETAIL = 'The server failed to process the request; it was logged under this request_id.';

/** Longest field name, message or path echoed in a problem: a bad value is quoted, never copied whole. */
const MAX_ECHO = 200;

/**
 * Every failure of a request becomes an RFC 9457 problem+json response here: domain errors,
 * problems raised by the edge itself, Nest HTTP exceptions, Fastify's own errors (malformed
 * JSON, oversize bodies) and unexpected errors, which become a bare 500. Every failure is
 * logged with the request id (4xx warn, 5xx error with the error).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const problem = toProblem(exception);
    const entry = { requestId: request.id, method: request.method, url: loggableUrl(request), status: problem.status };
    if (problem.status >= 500) this.logger.error({ ...entry, err: exception }, 'Request failed');
    else this.logger.warn({ ...entry, type: problem.type, detail: redactSecrets(problem.detail) }, 'Request rejected');
    sendProblem(http.getResponse<FastifyReply>(), request, problem);
  }
}

/** The one mapper from a failure to problem details. */
export function toProblem(exception: unknown, slugLists: SlugListNames = SLUG_LISTS): ProblemDetails {
  if (exception instanceof ProblemException) return exception.problem;
  if (exception instanceof DomainError) return domainProblem(exception, slugLists);
  if (exception instanceof BodyError) {
    return exception.errors
      ? { ...validationProblem(exception.errors), detail: exception.message }
      : plainProblem(exception.status, exception.message);
  }
  if (exception instanceof HttpException) return plainProblem(exception.getStatus(), httpDetail(exception));
  // Fastify's own request errors (FST_ERR_*): malformed JSON, body too large, unsupported media type, long URLs.
  const status = (exception as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return plainProblem(status, (exception as Error).message);
  if (isDatabaseUnavailable(exception)) return domainProblem(new DependencyUnavailableError('database'), slugLists);
  const rejection = databaseRejection(exception);
  if (rejection === 'invalid') return plainProblem(400, 'A value of the request cannot be stored');
  if (rejection === 'conflict')
    return { type: 'conflict', title: 'Conflict', status: 409, detail: 'The request conflicts with stored data' };
  return plainProblem(HttpStatus.INTERNAL_SERVER_ERROR, INTERNAL_DETAIL);
}

/** How one class of domain error becomes problem details; `at` names a slug's position in the request. */
type ProblemOf<E extends DomainError> = (error: E, at: (position: SlugPosition) => string) => ProblemDetails;
type DomainErrorClass<E extends DomainError> = abstract new (...args: never[]) => E;
interface ProblemMapping<E extends DomainError = DomainError> {
  error: DomainErrorClass<E>;
  problem: ProblemOf<E>;
}

const mapping = <E extends DomainError>(error: DomainErrorClass<E>, problem: ProblemOf<E>): ProblemMapping =>
  ({ error, problem }) as unknown as ProblemMapping;

/** A problem whose detail is the error's message. */
const messageProblem = (type: string, title: string, status: number, error: Error, headers?: Record<string, string>): ProblemDetails => ({
  type,
  title,
  status,
  detail: error.message,
  ...(headers ? { headers } : {}),
});
const fixed =
  (type: string, title: string, status: number, headers?: Record<string, string>): ProblemOf<DomainError> =>
  (error) =>
    messageProblem(type, title, status, error, headers);

const retryLater = { 'retry-after': String(RETRY_AFTER_SECONDS) };

/**
 * The one table from domain error to problem: type, title, status, detail and the field names
 * of `errors`. The first class an error is an instance of decides; an error of no class here is
 * a bare 500.
 */
const DOMAIN_PROBLEMS: readonly ProblemMapping[] = [
  mapping(UnknownSegmentsError, (error, at) => ({
    type: 'unknown-segments',
    title: 'Unknown segments',
    status: 422,
    detail: `${error.slugs.length} unknown segment${error.slugs.length === 1 ? '' : 's'}; nothing was changed`,
    errors: error.slugs.map((item) => ({ field: at(item), message: `segment "${item.slug}" does not exist` })),
  })),
  mapping(RepeatedSlugsError, (error, at) =>
    validationProblem(
      error.slugs.map((item) => ({ field: at(item), message: `segment "${item.slug}" is already listed at ${at(item.first)}` })),
    ),
  ),
  mapping(RepeatedUserIdsError, (error) =>
    validationProblem(error.userIds.map((item) => ({ field: `remove[${item.index}]`, message: `user ${item.userId} is also in add` }))),
  ),
  mapping(InvalidCursorError, (error) =>
    validationProblem([{ field: error.parameter, message: 'is not a cursor returned by this endpoint' }]),
  ),
  mapping(FutureMonthError, (error) => validationProblem([{ field: 'month', message: error.message }])),
  mapping(UnauthenticatedError, (error) =>
    messageProblem('unauthenticated', 'Unauthenticated', 401, error, {
      'www-authenticate': error.reason === 'missing' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`,
    }),
  ),
  mapping(ForbiddenError, (error) =>
    messageProblem('forbidden', 'Forbidden', 403, error, {
      'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${error.required}"`,
    }),
  ),
  mapping(NotFoundError, fixed('not-found', 'Not found', 404)),
  mapping(ConflictError, fixed('conflict', 'Conflict', 409)),
  mapping(CursorExpiredError, fixed('cursor-expired', 'Cursor expired', 410)),
  mapping(InvalidReportLinkError, fixed('invalid-report-link', 'Invalid report link', 403)),
  mapping(ReportLinkExpiredError, fixed('report-link-expired', 'Report link expired', 410)),
  mapping(DependencyUnavailableError, (error) => unavailableProblem(error.dependency)),
  mapping(PayloadTooLargeError, (error) => plainProblem(413, error.message)),
  mapping(StreamLimitError, fixed('too-many-streams', 'Too many streams', 503, retryLater)),
  mapping(IdAllocationError, fixed('id-allocation-failed', 'Could not allocate a user id', 503)),
  mapping(NotReadyError, (error) => ({
    ...messageProblem('not-ready', 'Not ready', 503, error, retryLater),
    errors: error.down.map((name) => ({ field: name, message: 'down' })),
  })),
];

function domainProblem(error: DomainError, slugLists: SlugListNames): ProblemDetails {
  const at = (position: SlugPosition) => `${slugLists[position.list]}[${position.index}]`;
  const found = DOMAIN_PROBLEMS.find((entry) => error instanceof entry.error);
  return found ? found.problem(error, at) : plainProblem(HttpStatus.INTERNAL_SERVER_ERROR, INTERNAL_DETAIL);
}

/** 503 naming what is down: `/problems/database-unavailable` or `/problems/redis-unavailable`, with Retry-After. */
export function unavailableProblem(dependency: 'database' | 'redis'): ProblemDetails {
  return {
    type: `${dependency}-unavailable`,
    title: 'Service unavailable',
    status: 503,
    detail: `${dependency === 'database' ? 'PostgreSQL' : 'Redis'} is unavailable; retry in a few seconds`,
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  };
}

/** Writes `problem` as the response to `request`. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemDetails): void {
  const { type, headers, errors, ...rest } = problem;
  void reply
    .status(problem.status)
    .headers(headers ?? {})
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('x-request-id', request.id)
    .send({
      type: type === 'about:blank' ? type : `/problems/${type}`,
      ...rest,
      detail: clip(rest.detail),
      ...(errors ? { errors: errors.map((error) => ({ field: clip(error.field), message: clip(error.message) })) } : {}),
      instance: clip(request.url.split('?')[0] ?? '/'),
      request_id: request.id,
    });
}

const REDACTED = '[REDACTED]';
/**
 * As long as a secret: every secret the service issues or accepts (API tokens, the bootstrap
 * token, report link tokens) is a run of at least 32 of these characters.
 */
const SECRET_LIKE = /[\w.~+%-]{32,}/g;

/** `text` for the logs: every run of characters as long as a secret is redacted. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_LIKE, REDACTED);
}

/**
 * The request's URL for logs, without anything a secret could be in, whatever the caller got
 * wrong: every query value is redacted whatever its parameter's name (`?access_token=…`), and
 * anything as long as a secret anywhere else (report links carry a signed token in the path; a
 * caller may paste a token anywhere). The rest stays, so the log still says what was asked.
 */
export function loggableUrl(request: FastifyRequest): string {
  const url = request.url;
  const mark = url.indexOf('?');
  if (mark === -1) return clip(redactSecrets(url));
  const query = url
    .slice(mark + 1)
    .split('&')
    .map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=${REDACTED}` : pair));
  return clip(redactSecrets(`${url.slice(0, mark)}?${query.join('&')}`));
}

function clip(text: string): string {
  return text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text;
}

function plainProblem(status: number, detail: string): ProblemDetails {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail };
}

function httpDetail(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : String(message ?? exception.message);
}
