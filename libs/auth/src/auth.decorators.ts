import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiSecurity } from '@nestjs/swagger';
import type { Caller } from '#libs/common';
import { ApiProblemResponse } from '#libs/http';
import type { FastifyRequest } from 'fastify';
import type { Scope } from './scopes.js';
import type { Principal } from './tokens.types.js';

export const REQUIRED_SCOPE = 'auth:required-scope';
export const PUBLIC_ROUTE = 'auth:public';
/** The security scheme's name in the OpenAPI document. */
export const BEARER_SCHEME = 'bearer';
/** OpenAPI extension naming the scope an operation needs; the document's descriptions are derived from it. */
export const SCOPE_EXTENSION = 'x-required-scope';

/** The operation needs a bearer token with `scope` (or a scope that includes it); documented in the OpenAPI document. */
export function RequireScope(scope: Scope): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPE, scope),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension(SCOPE_EXTENSION, scope),
    ApiProblemResponse(401, 'The token is missing, malformed, unknown, revoked or expired'),
    ApiProblemResponse(403, 'The token lacks the scope this operation needs'),
  );
}

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
