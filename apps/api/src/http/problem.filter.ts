import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import { ProblemException, type ProblemDetails } from '#libs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * The one mapper from failures to RFC 9457 problem+json responses: domain problems,
 * Nest HTTP exceptions, Fastify's own errors (malformed JSON, oversize bodies) and
 * unexpected errors, which become a bare 500 and are logged with the request id.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = this.toProblem(exception);
    if (problem.status >= 500) {
      this.logger.error({ requestId: request.id, method: request.method, url: request.url, err: exception }, 'Request failed');
    }
    const { type, ...rest } = problem;
    void reply
      .status(problem.status)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send({
        type: type === 'about:blank' ? type : `/problems/${type}`,
        ...rest,
        instance: request.url.split('?')[0],
        request_id: request.id,
      });
  }

  private toProblem(exception: unknown): ProblemDetails {
    if (exception instanceof ProblemException) return exception.problem;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { type: 'about:blank', title: statusTitle(status), status, detail: httpDetail(exception) };
    }
    // Fastify's own request errors (FST_ERR_CTP_*): malformed JSON, body too large, unsupported media type.
    const fastifyStatus = (exception as { statusCode?: unknown }).statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      return { type: 'about:blank', title: statusTitle(fastifyStatus), status: fastifyStatus, detail: (exception as Error).message };
    }
    return {
      type: 'about:blank',
      title: statusTitle(HttpStatus.INTERNAL_SERVER_ERROR),
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      detail: 'The server failed to process the request; it was logged under this request_id.',
    };
  }
}

function httpDetail(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : String(message ?? exception.message);
}

function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
