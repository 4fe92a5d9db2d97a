import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AppConfig } from '#libs/config';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { sendProblem, toProblem } from './problem.filter.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify with the body limit, JSON bodies only, and request ids (the caller's X-Request-Id when sane, else a UUID). */
export function createHttpAdapter(config: Pick<AppConfig, 'BODY_LIMIT_BYTES'>): FastifyAdapter {
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
  });
  // JSON only: Fastify's own JSON parser (the app is created with `bodyParser: false`); anything else is a 415.
  adapter.getInstance().removeContentTypeParser('text/plain');
  return adapter;
}

/** Options for NestFactory.create / createNestApplication that go with createHttpAdapter. */
export const HTTP_APP_OPTIONS = { bodyParser: false } as const;
