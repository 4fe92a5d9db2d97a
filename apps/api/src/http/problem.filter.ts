import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import { PROBLEM_CONTENT_TYPE, ProblemException, type ProblemDetails } from '#libs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';

/**
 * Every failure of a request becomes an RFC 9457 problem+json response here: domain
 * problems, Nest HTTP exceptions, Fastify's own errors (malformed JSON, oversize bodies) and
 * unexpected errors, which become a bare 500. Every failure is logged with the request id
 * (4xx warn, 5xx error with the error).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const problem = toProblem(exception);
    const entry = { requestId: request.id, method: request.method, url: request.url, status: problem.status };
    if (problem.status >= 500) this.logger.error({ ...entry, err: exception }, 'Request failed');
    else this.logger.warn({ ...entry, type: problem.type, detail: problem.detail }, 'Request rejected');
    sendProblem(http.getResponse<FastifyReply>(), request, problem);
  }
}

/** The one mapper from a failure to problem details. */
export function toProblem(exception: unknown): ProblemDetails {
  if (exception instanceof ProblemException) return exception.problem;
  if (exception instanceof HttpException) return plainProblem(exception.getStatus(), httpDetail(exception));
  // Fastify's own request errors (FST_ERR_*): malformed JSON, body too large, unsupported media type, long URLs.
  const status = (exception as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return plainProblem(status, (exception as Error).message);
  return plainProblem(HttpStatus.INTERNAL_SERVER_ERROR, 'The server failed to process the request; it was logged under this request_id.');
}

/** Writes `problem` as the response to `request`. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemDetails): void {
  const { type, ...rest } = problem;
  void reply
    .status(problem.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('x-request-id', request.id)
    .send({
      type: type === 'about:blank' ? type : `/problems/${type}`,
      ...rest,
      instance: request.url.split('?')[0],
      request_id: request.id,
    });
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
