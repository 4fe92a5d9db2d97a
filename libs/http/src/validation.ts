import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { Readable } from 'node:stream';
import { MAX_LISTED_ERRORS, ProblemException, type ProblemFieldError } from './problem.js';
import { ITEM_RULE, type ItemRule } from './validators.js';

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
    // Values, so that a bad list can name each bad item (EachItem); no value is echoed.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => {
      const { errors: listed, total } = flattenValidationErrors(errors);
      return ProblemException.validation(listed, total);
    },
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

/** The bad fields of a request, named by their paths, at most MAX_LISTED_ERRORS of them kept; `total` counts them all. */
export interface FieldErrors {
  errors: ProblemFieldError[];
  total: number;
}

export function flattenValidationErrors(errors: ValidationError[]): FieldErrors {
  const found: FieldErrors = { errors: [], total: 0 };
  collect(errors, '', found);
  return found;
}

function collect(errors: ValidationError[], parent: string, found: FieldErrors): void {
  const add = (error: ProblemFieldError) => {
    found.total++;
    if (found.errors.length < MAX_LISTED_ERRORS) found.errors.push(error);
  };
  for (const error of errors) {
    const field = !parent ? error.property : /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`;
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      const rule = error.contexts?.[constraint]?.[ITEM_RULE] as ItemRule | undefined;
      if (rule && Array.isArray(error.value)) {
        error.value.forEach((item: unknown, index) => {
          if (!rule.accepts(item)) add({ field: `${field}[${index}]`, message: rule.message });
        });
      } else {
        add({ field: field || 'body', message: stripPropertyName(message, error.property) });
      }
    }
    collect(error.children ?? [], field, found);
  }
}

/** class-validator messages start with the property name ("user_id must be…"); the field already says it. */
function stripPropertyName(message: string, property: string): string {
  return property && message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}
