import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectMetric, makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { ForbiddenError, UnauthenticatedError, type AuthFailure } from '#libs/common';
import type { Counter } from 'prom-client';
import { PUBLIC_ROUTE, REQUIRED_SCOPE, type AuthenticatedRequest } from './auth.decorators.js';
import { grants, type Scope } from './scopes.js';
import { TokensService } from './tokens.service.js';
import type { Principal } from './tokens.types.js';

export const AUTH_FAILURES = 'auth_failures_total';
export const authFailuresProvider = makeCounterProvider({
  name: AUTH_FAILURES,
  help: 'Requests refused for their token, by reason',
  labelNames: ['reason'],
});

const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

/**
 * Every route needs a bearer token with the scope its handler declares (@RequireScope),
 * unless it is @Public. A route that declares neither needs `admin`: a forgotten declaration
 * fails closed. Refusals are counted by reason; secrets never reach logs or metrics.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly requirements = new WeakMap<object, Scope | 'public'>();

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
    @InjectMetric(AUTH_FAILURES) private readonly failures: Counter,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const required = this.requirementOf(context);
    if (required === 'public') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    try {
      const header = request.headers.authorization;
      if (header === undefined) throw new UnauthenticatedError('missing');
      const secret = BEARER.exec(header)?.[1];
      if (secret === undefined) throw new UnauthenticatedError('malformed');
      const verified = this.tokens.verify(secret);
      return verified instanceof Promise
        ? verified.then(
            (principal) => this.admit(request, principal, required),
            (error: unknown) => this.refuse(error),
          )
        : this.admit(request, verified, required);
    } catch (error) {
      return this.refuse(error);
    }
  }

  /** What the route declares, read from its metadata once per handler (this runs on every request). */
  private requirementOf(context: ExecutionContext): Scope | 'public' {
    const handler = context.getHandler();
    let requirement = this.requirements.get(handler);
    if (requirement === undefined) {
      const targets = [handler, context.getClass()];
      requirement = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)
        ? 'public'
        : (this.reflector.getAllAndOverride<Scope>(REQUIRED_SCOPE, targets) ?? 'admin');
      this.requirements.set(handler, requirement);
    }
    return requirement;
  }

  private admit(request: AuthenticatedRequest, principal: Principal, required: Scope): boolean {
    if (!grants(principal.scopes, required)) {
      this.failures.inc({ reason: 'insufficient_scope' });
      throw new ForbiddenError(required);
    }
    request.principal = principal;
    return true;
  }

  private refuse(error: unknown): never {
    if (error instanceof UnauthenticatedError) this.failures.inc({ reason: error.reason satisfies AuthFailure });
    throw error;
  }
}
