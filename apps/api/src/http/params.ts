import { applyDecorators, Injectable, type PipeTransform } from '@nestjs/common';
import type { ValidationOptions } from 'class-validator';
import { ApiParam } from '@nestjs/swagger';
import { EachItem, ProblemException } from '#libs/http';
import { isSlug, SLUG_MAX_LENGTH, SLUG_PATTERN, SLUG_RULE } from '#libs/segments';
import { MAX_USER_ID } from '#libs/users';

@Injectable()
export class ParseUserIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (/^[1-9][0-9]{0,15}$/.test(value) && Number(value) <= MAX_USER_ID) return Number(value);
    throw ProblemException.validation([{ field: 'user_id', message: `must be an integer from 1 to ${MAX_USER_ID}` }]);
  }
}

@Injectable()
export class ParseSlugPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (isSlug(value)) return value;
    throw ProblemException.validation([{ field: 'slug', message: SLUG_RULE }]);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

@Injectable()
export class ParseUuidPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (UUID.test(value)) return value;
    throw ProblemException.validation([{ field: 'id', message: 'must be a UUID (lowercase)' }]);
  }
}

/** Documents the `user_id` path parameter as the integer it is. */
export function ApiUserIdParam(): MethodDecorator {
  return applyDecorators(ApiParam({ name: 'user_id', schema: { type: 'integer', minimum: 1, maximum: MAX_USER_ID }, example: 1000 }));
}

/** Documents the `slug` path parameter with the slug rule. */
export function ApiSlugParam(): MethodDecorator {
  return applyDecorators(
    ApiParam({
      name: 'slug',
      schema: { type: 'string', pattern: SLUG_PATTERN.source, maxLength: SLUG_MAX_LENGTH },
      example: 'AVITO_VOICE_MESSAGES',
    }),
  );
}

/** An array of user ids (integers 1 … 2^53 − 1); a failure names each bad one. */
export function IsUserIds(options?: ValidationOptions): PropertyDecorator {
  return EachItem('isUserIds', { accepts: isUserId, message: `must be an integer from 1 to ${MAX_USER_ID}` }, options);
}

/** An array of slugs; a failure names each bad one. */
export function AreSlugs(options?: ValidationOptions): PropertyDecorator {
  return EachItem('areSlugs', { accepts: isSlug, message: SLUG_RULE }, options);
}

function isUserId(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}
