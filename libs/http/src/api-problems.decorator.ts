import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto } from './problem.dto.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or invalid; `errors` names every bad field',
  403: 'The report link was not issued by this service or was altered',
  404: 'The resource does not exist',
  409: 'The request conflicts with the current state',
  413: 'The request body is larger than the configured limit',
  410: 'The report link has expired',
  415: 'The request body is not JSON',
  422: 'The request refers to segments that do not exist; `errors` names each, nothing was changed',
  500: 'Unexpected failure; logged under `request_id`',
  503: 'PostgreSQL (or, for readiness, a dependency) is unavailable; retry after `Retry-After` seconds',
};

/** Documents the problem+json responses an operation can give (400, 500 and 503 are always possible). */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  const all = [...new Set([400, ...statuses, 500, 503])].sort();
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...all.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}
