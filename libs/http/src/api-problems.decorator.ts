import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto } from './problem.dto.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or invalid; `errors` names every bad field',
  404: 'The resource does not exist',
  409: 'The request conflicts with the current state',
  413: 'The request body is larger than the configured limit',
  415: 'The request body is not of a supported media type',
  422: 'The request refers to segments that do not exist; `errors` names each, nothing was changed',
  500: 'Unexpected failure; logged under `request_id`',
  503: 'PostgreSQL (or, for readiness, a dependency) is unavailable; retry after `Retry-After` seconds',
};
/** Problems any request can get. */
const ALWAYS = [400, 500, 503];

/** Documents one problem+json response (Swagger joins two descriptions of one status, so each status is documented once). */
export function ApiProblemResponse(status: number, description: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ApiResponse({ status, description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } } }),
  );
}

/**
 * Documents the problem+json responses an operation can give: `statuses`, each a status with a
 * common meaning or `[status, description]` where it means something specific, and 400, 500 and
 * 503, which any request can get.
 */
export function ApiProblems(...statuses: (number | [number, string])[]): MethodDecorator & ClassDecorator {
  const described = new Map<number, string>(ALWAYS.map((status) => [status, DESCRIPTIONS[status]!]));
  for (const entry of statuses) {
    const [status, description] = typeof entry === 'number' ? [entry, DESCRIPTIONS[entry]] : entry;
    if (description === undefined) throw new Error(`No description for a ${status} problem; pass [${status}, description]`);
    described.set(status, description);
  }
  return applyDecorators(
    ...[...described].sort(([a], [b]) => a - b).map(([status, description]) => ApiProblemResponse(status, description)),
  );
}
