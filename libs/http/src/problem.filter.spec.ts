import { BadRequestException } from '@nestjs/common';
import {
  ConflictError,
  DependencyUnavailableError,
  FutureMonthError,
  InvalidCursorError,
  NotFoundError,
  RepeatedSlugsError,
  UnknownSegmentsError,
} from '#libs/common';
import type { ValidationError } from 'class-validator';
import { describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { loggableUrl, toProblem } from './problem.filter.js';
import { MAX_LISTED_ERRORS, validationProblem } from './problem.js';
import { flattenValidationErrors } from './validation.js';
import { ITEM_RULE, type ItemRule } from './validators.js';

describe('problem mapping', () => {
  it('names unknown slugs by their request field, per API shape', () => {
    const error = new UnknownSegmentsError([
      { list: 'add', index: 1, slug: 'X' },
      { list: 'remove', index: 0, slug: 'Y' },
    ]);
    expect(toProblem(error)).toMatchObject({
      type: 'unknown-segments',
      status: 422,
      errors: [
        { field: 'add[1]', message: 'segment "X" does not exist' },
        { field: 'remove[0]', message: 'segment "Y" does not exist' },
      ],
    });
    expect(toProblem(error, { add: 'add_segments', remove: 'delete_segments' }).errors?.map((item) => item.field)).toEqual([
      'add_segments[1]',
      'delete_segments[0]',
    ]);
  });

  it('maps each domain error to its status and type', () => {
    const repeated = new RepeatedSlugsError([{ slug: 'A', list: 'remove', index: 0, first: { list: 'add', index: 2 } }]);
    expect(toProblem(repeated)).toMatchObject({
      status: 400,
      type: 'validation-error',
      errors: [{ field: 'remove[0]', message: 'segment "A" is already listed at add[2]' }],
    });
    expect(toProblem(new NotFoundError('Segment "A"'))).toMatchObject({
      status: 404,
      type: 'not-found',
      detail: 'Segment "A" does not exist',
    });
    expect(toProblem(new ConflictError('taken'))).toMatchObject({ status: 409, type: 'conflict', detail: 'taken' });
    expect(toProblem(new InvalidCursorError())).toMatchObject({ status: 400, errors: [{ field: 'cursor' }] });
    expect(toProblem(new FutureMonthError(2099, 1))).toMatchObject({
      status: 400,
      errors: [{ field: 'month', message: '2099-01 is in the future' }],
    });
  });

  it('answers 503 with Retry-After when a dependency is down, including raw driver errors', () => {
    expect(toProblem(new DependencyUnavailableError('redis'))).toMatchObject({
      status: 503,
      type: 'redis-unavailable',
      headers: { 'retry-after': '5' },
    });
    expect(toProblem(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toMatchObject({
      status: 503,
      type: 'database-unavailable',
    });
  });

  it('keeps client errors of the framework and hides unexpected ones', () => {
    expect(toProblem(new BadRequestException('nope'))).toMatchObject({ status: 400, type: 'about:blank', detail: 'nope' });
    expect(toProblem(Object.assign(new Error('Body is too large'), { statusCode: 413 }))).toMatchObject({ status: 413 });
    const hidden = toProblem(new Error('password "hunter2" rejected'));
    expect(hidden).toMatchObject({ status: 500, type: 'about:blank' });
    expect(JSON.stringify(hidden)).not.toContain('hunter2');
  });
});

describe('validation errors', () => {
  it('names every bad field by its path in the request', () => {
    const errors: ValidationError[] = [
      { property: 'extra', constraints: { whitelistValidation: 'property extra should not exist' }, children: [] },
      {
        property: 'add',
        children: [
          {
            property: '1',
            children: [{ property: 'ttl_seconds', constraints: { min: 'ttl_seconds must not be less than 1' }, children: [] }],
          },
        ],
      },
    ];
    expect(flattenValidationErrors(errors)).toEqual({
      errors: [
        { field: 'extra', message: 'property extra should not exist' },
        { field: 'add[1].ttl_seconds', message: 'must not be less than 1' },
      ],
      total: 2,
    });
  });

  it('names each bad item of a list checked in one pass, keeping the first 100 and counting them all', () => {
    const rule: ItemRule = { accepts: (item) => item === 1, message: 'must be 1' };
    const list = (property: string, value: unknown[]): ValidationError => ({
      property,
      value,
      constraints: { ones: `${property} has bad items` },
      contexts: { ones: { [ITEM_RULE]: rule } },
      children: [],
    });
    const { errors, total } = flattenValidationErrors([
      list('add', [1, 0, 1, 2]),
      list(
        'remove',
        Array.from({ length: 200 }, () => 0),
      ),
    ]);
    expect(total).toBe(202);
    expect(errors).toHaveLength(MAX_LISTED_ERRORS);
    expect(errors.slice(0, 3)).toEqual([
      { field: 'add[1]', message: 'must be 1' },
      { field: 'add[3]', message: 'must be 1' },
      { field: 'remove[0]', message: 'must be 1' },
    ]);
    expect(validationProblem(errors, total).detail).toMatch(
      /^202 invalid fields \(the first 100 listed\): add\[1\], add\[3\], remove\[0\]/,
    );
  });
});

describe('logged URLs', () => {
  const logged = (url: string) => loggableUrl({ url } as FastifyRequest);
  const secret = 'seg_6yGorEuerDKcoJUiqSWO-R9PYH84rWC_farjdUUFzUk';

  it('never carry a query value, whatever its name', () => {
    expect(logged(`/segments?access_token=${secret}`)).toBe('/segments?access_token=[REDACTED]');
    expect(logged(`/segments?x=${secret}&limit=10&flag&x=2`)).toBe('/segments?x=[REDACTED]&limit=[REDACTED]&flag&x=[REDACTED]');
    expect(logged(`/segments?${secret}`)).toBe('/segments?[REDACTED]');
  });

  it('never carry a path segment as long as a secret (report link tokens, a pasted token), keeping the rest', () => {
    expect(logged('/reports/segment-history/eyJ5IjoyMDI2LCJtIjoxMSwidSI6MTAwMH0.0jEKi0yM-GNbkgaa3mIWfhedqroVYhrGH4JUz0EuAcg')).toBe(
      '/reports/segment-history/[REDACTED]',
    );
    expect(logged(`/users/${secret}/segments`)).toBe('/users/[REDACTED]/segments');
    expect(logged('/users/1000/segments')).toBe('/users/1000/segments');
    expect(logged(`/x/${'a/'.repeat(300)}`).length).toBeLessThanOrEqual(201);
  });
});
