import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { Readable } from 'node:stream';
import { ProblemException, type ProblemFieldError } from './problem.js';

/**
 * Request validation: unknown fields are rejected (a typo never silently does nothing),
 * and every bad field is named by its path (`add[1].ttl_seconds`).
 */
export function createValidationPipe(): ValidationPipe {
  return new DtoValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ProblemException.validation(flattenValidationErrors(errors)),
  });
}

/**
 * Validates and converts DTO classes only. Nest's pipe would also coerce primitive route
 * parameters (`Number("1e3")` is 1000); those are parsed strictly by their own pipes.
 */
class DtoValidationPipe extends ValidationPipe {
  protected override transformPrimitive(value: unknown): unknown {
    return value;
  }

  /**
   * Nest deletes `__proto__` and `constructor` keys before converting, which would hide them
   * from the unknown-field check below: the body parser has refused `__proto__` already, and
   * class-transformer never assigns `constructor`, so they are reported instead of removed.
   */
  protected override stripProtoKeys(): void {}

  /**
   * An absent body is an empty one (its required fields are then named as missing). A stream
   * (the body of a CSV route) is no DTO: it goes to its own pipe untouched.
   */
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (value instanceof Readable) return value;
    const plain = value === undefined && metadata.type === 'body' ? {} : value;
    const converted: unknown = await super.transform(plain, metadata);
    if (metadata.type !== 'custom' && converted !== plain) {
      const dropped = droppedFields(plain, converted, '');
      if (dropped.length > 0) throw ProblemException.validation(dropped.map((field) => ({ field, message: 'is not accepted' })));
    }
    return converted;
  }
}

/**
 * Fields of the request that conversion to the DTO dropped silently: class-transformer skips
 * keys that name a method every object has (`constructor`, `toString`, …), so whitelisting
 * never sees them. Every field sent must be a field of the DTO; these are unknown fields too.
 */
function droppedFields(plain: unknown, converted: unknown, path: string): string[] {
  if (plain === null || typeof plain !== 'object' || converted === null || typeof converted !== 'object') return [];
  return Object.keys(plain).flatMap((key) => {
    const field = Array.isArray(plain) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (!Object.hasOwn(converted, key)) return [field];
    return droppedFields((plain as Record<string, unknown>)[key], (converted as Record<string, unknown>)[key], field);
  });
}

export function flattenValidationErrors(errors: ValidationError[], parent = ''): ProblemFieldError[] {
  return errors.flatMap((error) => {
    const field = !parent ? error.property : /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field: field || 'body',
      message: stripPropertyName(message, error.property),
    }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** class-validator messages start with the property name ("user_id must be…"); the field already says it. */
function stripPropertyName(message: string, property: string): string {
  return property && message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}
