import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AppConfig } from '#libs/config';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CSV_BODY } from './csv-body.js';
import { BodyError, parseJsonBody } from './json-body.js';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from './problem.js';
import { sendProblem, toProblem } from './problem.filter.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A host name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const UTF8 = /^utf-?8$/i;

type TimeoutSettings = Pick<
  AppConfig,
  'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_IDLE_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
>;

/**
 * Fastify as both apps use it: the body limit, the one JSON body parser (anything else is a
 * 415), header checks, timeouts, request ids (the caller's X-Request-Id when sane, else a UUID),
 * and problem+json even for what Node's HTTP parser refuses before Fastify sees a request.
 */
export function createHttpAdapter(config: Pick<AppConfig, 'BODY_LIMIT_BYTES'> & TimeoutSettings): FastifyAdapter {
  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Report links carry a signed token in the path.
    routerOptions: { maxParamLength: 1024 },
    // Errors Fastify raises before routing (bad or overlong URLs) get the same problem+json as the rest.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => sendProblem(reply, request, toProblem(error)),
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Host is checked by checkHeaders (a problem, not Node's bare 400).
    // Node enforces the header and request timeouts when it checks connections: every second, not every 30 s.
    http: { requireHostHeader: false, headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    clientErrorHandler: answerClientError,
  });
  const fastify = adapter.getInstance();
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !UTF8.test(charset))
      return done(new BodyError(415, `Bodies are UTF-8 JSON; charset ${charset.slice(0, 20)} is not accepted`));
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error);
    }
  });
  // CSV only for the routes that declare it (@AcceptsCsvBody): the handler gets the body as a stream.
  fastify.addContentTypeParser('text/csv', (request, payload, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (!(request.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[CSV_BODY]) {
      return done(new BodyError(415, 'This route accepts only JSON bodies'));
    }
    if (charset !== undefined && !UTF8.test(charset) && !/^us-ascii$/i.test(charset)) {
      return done(new BodyError(415, `CSV bodies are UTF-8; charset ${charset.slice(0, 20)} is not accepted`));
    }
    done(null, payload);
  });
  // Every answer carries its request id; a callback hook (no promise per request on the hot paths).
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    const problem = headerProblem(request);
    if (problem) return sendProblem(reply, request, problem);
    done();
  });
  return adapter;
}

/** Options for NestFactory.create / createNestApplication that go with createHttpAdapter. */
export const HTTP_APP_OPTIONS = { bodyParser: false } as const;

/**
 * Exactly one valid Host (report links never use it, but a proxy might); at most one Content-Type,
 * naming each of its parameters once (`charset=utf-8; charset=latin1`: a proxy reading one and the
 * service the other would see different requests, as with duplicate JSON keys); and no encoding of
 * the body but chunked transfer.
 */
function headerProblem(request: FastifyRequest): ProblemDetails | undefined {
  const raw = request.raw.rawHeaders;
  const host = request.headers.host;
  if (count(raw, 'host') !== 1 || host === undefined || !HOST.test(host))
    return badRequest('The request needs exactly one valid Host header');
  const contentType = request.headers['content-type'];
  if (count(raw, 'content-type') > 1 || (contentType !== undefined && repeatsParameter(contentType))) {
    return badRequest('The request needs at most one Content-Type header, naming each of its parameters once');
  }
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return {
      type: 'about:blank',
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'Request bodies are not accepted with a Content-Encoding',
    };
  }
  const transfer = request.headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked') {
    return { type: 'about:blank', title: 'Unsupported Media Type', status: 415, detail: 'Only the chunked transfer encoding is accepted' };
  }
  return undefined;
}

/** How many times the header `name` (lower case) is in the raw header list. */
function count(raw: string[], name: string): number {
  return raw.filter((value, index) => index % 2 === 0 && value.toLowerCase() === name).length;
}

/** Whether a media type names a parameter twice, in any case (`type/subtype; a=1; A=2`). */
function repeatsParameter(mediaType: string): boolean {
  const names = mediaType
    .split(';')
    .slice(1)
    .map((parameter) => parameter.split('=')[0]!.trim().toLowerCase())
    .filter((name) => name !== '');
  return new Set(names).size !== names.length;
}

function badRequest(detail: string): ProblemDetails {
  return { type: 'about:blank', title: 'Bad Request', status: 400, detail };
}

/**
 * What Node's HTTP parser refuses (malformed requests, headers too large, requests too slow)
 * never reaches Fastify; it is answered here, as problem+json, and the connection closed.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const requestId = randomUUID();
  const detail = {
    408: 'The request was not received in time',
    431: 'The request headers are too large',
    400: 'The request is not valid HTTP',
  }[status];
  const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, detail, instance: '/', request_id: requestId });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}
