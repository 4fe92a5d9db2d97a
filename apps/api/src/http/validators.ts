import { registerDecorator, type ValidationArguments, type ValidationOptions } from 'class-validator';

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 instant with an explicit zone, later than now and at most `maxSeconds` ahead. */
export function IsFutureInstant(maxSeconds: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isFutureInstant',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value)) return false;
          const at = Date.parse(value);
          const now = Date.now();
          return Number.isFinite(at) && at > now && at <= now + maxSeconds * 1000;
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be an ISO 8601 instant with a zone (e.g. 2030-01-31T12:00:00Z), in the future and at most ten years ahead`,
      },
    });
}

/** The property may not be given together with `other`. */
export function IsAbsentWith(other: string, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isAbsentWith',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other],
      options,
      validator: {
        validate: (value: unknown, args: ValidationArguments) =>
          value === undefined || (args.object as Record<string, unknown>)[other] === undefined,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} cannot be combined with ${other}`,
      },
    });
}
