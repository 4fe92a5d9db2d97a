import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import { BEARER_SCHEME, REQUIRED_SCOPE, SCOPE_EXTENSION, type Scope } from '#libs/auth';
import { ApiProblemResponse } from './api-problems.decorator.js';

/**
 * The operation needs a bearer token with `scope` (or a scope that includes it); documented in
 * the OpenAPI document with its 401 and 403 problems. The HTTP side of auth: the scope is auth's
 * metadata (REQUIRED_SCOPE, read by its guard), the problem responses are this lib's.
 */
export function RequireScope(scope: Scope): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPE, scope),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension(SCOPE_EXTENSION, scope),
    ApiProblemResponse(401, 'The token is missing, malformed, unknown, revoked or expired'),
    ApiProblemResponse(403, 'The token lacks the scope this operation needs'),
  );
}
