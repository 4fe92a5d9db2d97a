import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInstant, Optional, QueryInteger } from '#libs/http';
import { MAX_TTL_SECONDS } from '#libs/memberships';
import { IsInt, Max, Min } from 'class-validator';

/** What a field's documentation says beside its schema. */
interface FieldDoc {
  example: number | string;
  description: string;
}

/*
 * Composite decorators of the fields that several DTOs share: the validation (class-validator),
 * the conversion (class-transformer) and the OpenAPI schema (Swagger) of each, written once.
 * Their parts are listed in the order stacked decorators apply (bottom first), so validation
 * messages come in the order they did when each DTO stacked them.
 */

/** An optional time-to-live: a whole number of seconds from 1 to ten years (MAX_TTL_SECONDS); `query` when it comes as a query parameter. */
export function TtlSeconds(doc: FieldDoc & { query?: boolean }): PropertyDecorator {
  const { query, ...documented } = doc;
  return applyDecorators(
    Max(MAX_TTL_SECONDS),
    Min(1),
    IsInt(),
    ...(query ? [QueryInteger()] : []),
    Optional(),
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_TTL_SECONDS, ...documented }),
  );
}

/** An optional instant with an explicit offset, strictly in the future and at most ten years ahead (an expiry). */
export function FutureInstant(doc: FieldDoc): PropertyDecorator {
  return applyDecorators(IsInstant({ futureSeconds: MAX_TTL_SECONDS }), Optional(), ApiPropertyOptional({ format: 'date-time', ...doc }));
}
