import { ValidationPipe, type ValidationError } from '@nestjs/common';
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
