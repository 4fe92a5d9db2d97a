import { parseInstant } from '#libs/common';
import { Transform } from 'class-transformer';
import { registerDecorator, ValidateIf, type ValidationArguments, type ValidationOptions } from 'class-validator';

/**
 * An optional field: absent is fine, but when given (even as `null`) it must be valid. Unlike
 * class-validator's IsOptional, `null` does not pass for a field that has no null value
 * (`expires_at: null` is an error, never "no expiry" or the epoch).
 */
export function Optional(): PropertyDecorator {
  return ValidateIf((object: Record<string, unknown>, value: unknown) => value !== undefined);
}

/** A query parameter that is a whole number written in plain decimal digits (`1e3`, `0x10`, ` 1`, `01` are not). */
export function QueryInteger(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^(0|[1-9]\d{0,15})$/.test(value) ? Number(value) : value,
  );
}

/** An instant with an explicit offset on a real calendar date; with `within`, strictly in the future and at most that many seconds ahead. */
export function IsInstant(within?: { futureSeconds: number }, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isInstant',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate(value: unknown) {
          const at = typeof value === 'string' ? parseInstant(value) : undefined;
          if (!at) return false;
          if (!within) return true;
          const now = Date.now();
          return at.getTime() > now && at.getTime() <= now + within.futureSeconds * 1000;
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be an ISO 8601 instant with an offset on a real date (e.g. 2030-01-31T12:00:00Z)` +
          (within ? ', in the future and at most ten years ahead' : ''),
      },
    });
}

/** A share of users: a number from 0 to 100 with at most two decimals, however it is written (`1e-9` is not one). */
export function IsPercent(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isPercent',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100 && Number(value.toFixed(2)) === value,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} must be a number from 0 to 100 with at most two decimals`,
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

/** This array and the array `other` hold at most `max` items together. */
export function IsTotalAtMost(other: string, max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isTotalAtMost',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other, max],
      options,
      validator: {
        validate: (value: unknown, args: ValidationArguments) => {
          const length = (list: unknown) => (Array.isArray(list) ? list.length : 0);
          return length(value) + length((args.object as Record<string, unknown>)[other]) <= max;
        },
        defaultMessage: (args?: ValidationArguments) => `${args?.property} and ${other} must hold at most ${max} ids together`,
      },
    });
}

/** Key of the validation context by which a failed EachItem list names its bad items (flattenValidationErrors). */
export const ITEM_RULE = 'itemRule';

export interface ItemRule {
  accepts: (item: unknown) => boolean;
  /** Why an item is refused, e.g. `must be an integer from 1 to …`. */
  message: string;
}

/**
 * An array whose every item the rule accepts, checked in one pass: bulk bodies hold up to
 * 100 000 items, and an `each` validator per item would cost more than the change itself. A
 * failure names each bad item by its index (`add[10]`), the first MAX_LISTED_ERRORS of them,
 * and counts them all. Whether it is an array at all is IsArray's to say.
 */
export function EachItem(name: string, rule: ItemRule, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options: { ...options, context: { [ITEM_RULE]: rule } },
      validator: {
        validate: (value: unknown) => !Array.isArray(value) || value.every(rule.accepts),
        defaultMessage: () => `each item ${rule.message}`,
      },
    });
}
