import type { AppConfig } from '#libs/config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

/**
 * Structured JSON logs (pretty in development). Each request's log lines carry its id (the
 * same as the X-Request-Id header and problem `request_id`); requests are logged when they
 * fail (4xx warn, 5xx error) and at debug level otherwise. Only method, URL and status of a
 * request are logged: never headers or bodies.
 */
export function loggerParams(config: Pick<AppConfig, 'LOG_LEVEL' | 'NODE_ENV'>, service: string): Params {
  return {
    pinoHttp: {
      level: config.LOG_LEVEL,
      base: { service },
      // Fastify assigned the id (see http-adapter); an onRequest hook copies it onto the raw request.
      genReqId: (request: IncomingMessage) => (request as IncomingMessage & { id?: string }).id ?? 'unknown',
      customLogLevel: (_request: IncomingMessage, response: ServerResponse, error?: Error) =>
        error || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'warn' : 'debug',
      serializers: {
        req: (request: { id: string; method: string; url: string }) => ({ id: request.id, method: request.method, url: request.url }),
        res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
      },
      transport: config.NODE_ENV === 'development' ? { target: 'pino-pretty', options: { singleLine: true, colorize: true } } : undefined,
    },
  };
}
