import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from './problem.js';

/**
 * A route that takes no body refuses one with fields (`DELETE /segments/X {"force": true}`):
 * every field sent must mean something, so a mistaken request never silently does something
 * else. An empty body or `{}` is accepted. Whether a handler takes a body is read once from its
 * parameter metadata. A guard, not an interceptor: it costs the hot paths no observable chain.
 */
@Injectable()
export class BodylessRoutesGuard implements CanActivate {
  private readonly takesBody = new WeakMap<object, boolean>();

  canActivate(context: ExecutionContext): boolean {
    const body = context.switchToHttp().getRequest<FastifyRequest>().body;
    if (body === undefined || Object.keys(body as object).length === 0 || this.acceptsBody(context)) return true;
    throw ProblemException.validation(
      Object.keys(body as object).map((field) => ({ field, message: 'is not accepted: this route takes no body' })),
    );
  }

  private acceptsBody(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let takes = this.takesBody.get(handler);
    if (takes === undefined) {
      const parameters = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), handler.name) ?? {}) as Record<string, unknown>;
      takes = Object.keys(parameters).some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY);
      this.takesBody.set(handler, takes);
    }
    return takes;
  }
}
