import { describe, expect, it } from 'vitest';
import { SchemaChecker, type OpenApiDocument } from './support/contract.js';

const rollout = { type: 'object', properties: { state: { type: 'string' } }, required: ['state'] };
const ref = { $ref: '#/components/schemas/Rollout' };

/** A document whose Segment has one required `rollout` property of the given schema. */
function checkerFor(openapi: string, property: object): (value: unknown) => string | undefined {
  const segment = { type: 'object', properties: { rollout: property }, required: ['rollout'] };
  const document: OpenApiDocument = { openapi, paths: {}, components: { schemas: { Rollout: rollout, Segment: segment } } };
  const checker = new SchemaChecker(document);
  return (value) => checker.check({ $ref: '#/components/schemas/Segment' }, { rollout: value });
}

/**
 * The contract suite's checker reads `nullable` as strict tools do (Stoplight Prism, typed
 * generators), not as "or null" wherever it stands: a document that declares a nullable
 * reference in a way they read as never null fails the contract suite.
 */
describe('contract checker', () => {
  it.each([
    ['3.0.0', 'nullable beside allOf of a $ref (what 1.0.0 documented)', { type: 'object', nullable: true, allOf: [ref] }],
    ['3.0.3', 'nullable beside oneOf of a $ref, without type', { nullable: true, oneOf: [ref] }],
    ['3.0.3', 'nullable beside an enum without null', { type: 'string', nullable: true, enum: ['done'] }],
    ['3.1.0', 'nullable, which 3.1 does not have', { type: 'object', nullable: true, allOf: [ref] }],
  ])('refuses null where OpenAPI %s has %s', (openapi, _case, property) => {
    const check = checkerFor(openapi, property);
    expect(check(null)).toMatch(/rollout/);
    if (!('enum' in property)) expect(check({ state: 'done' })).toBeUndefined();
  });

  it.each([
    ['3.0.3', 'nullable beside its type', { type: 'string', nullable: true }],
    ['3.1.0', 'a type array with null', { type: ['string', 'null'] }],
    ['3.1.0', 'anyOf of a $ref and null', { anyOf: [ref, { type: 'null' }] }],
  ])('accepts null where OpenAPI %s has %s', (openapi, _case, property) => {
    expect(checkerFor(openapi, property)(null)).toBeUndefined();
  });

  it('refuses an undocumented field and a missing one', () => {
    const check = checkerFor('3.1.0', { anyOf: [ref, { type: 'null' }] });
    expect(check({ state: 'done', extra: 1 })).toMatch(/additional properties/);
    expect(check({})).toMatch(/state/);
  });
});
