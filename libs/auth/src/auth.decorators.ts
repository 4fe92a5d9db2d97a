import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import type { Caller } from '#libs/common';
import type { FastifyRequest } from 'fastify';
import type { Principal } from './tokens.types.js';

/** Metadata naming the scope a route needs (set by RequireScope in libs/http, read by ApiTokenGuard). */
export const REQUIRED_SCOPE = 'auth:required-scope';
export const PUBLIC_ROUTE = 'auth:public';
/** The security scheme's name in the OpenAPI document. */
export const BEARER_SCHEME = 'bearer';
/** OpenAPI extension naming the scope an operation needs; the document's descriptions are derived from it. */
export const SCOPE_EXTENSION = 'x-required-scope';

/** The operation needs no token (health, report download links, which are signed capabilities). */
export function Public(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(PUBLIC_ROUTE, true), ApiSecurity({}));
}

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

/** The caller of the request: its token's name (the actor in history) and the request id. */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  return { actor: request.principal!.name, requestId: request.id };
});
