import type { Type } from '@nestjs/common';
import { createValidationPipe, ProblemException } from '#libs/http';
import { describe, expect, it } from 'vitest';
import { CreateSegmentDto, ChangeSegmentMembersDto, UpdateSegmentDto } from '../segments/dto/segment-request.dto.js';
import { CreateTokenDto } from '../tokens/dto/token.dto.js';
import { BulkRegisterUsersDto, ChangeUserSegmentsDto, LookUpUsersDto, RegisterUserDto } from '../users/dto/user-request.dto.js';

/**
 * Request bodies through the application's own validation pipe (class-validator on plain
 * objects, unknown fields refused): a valid body passes, and an invalid one is a 400 naming
 * exactly its bad fields, by their paths in the request.
 */
const pipe = createValidationPipe();

/** The fields a body is refused for (each once, though it may break several rules); [] when it is accepted. */
async function badFields(metatype: Type, body: unknown): Promise<string[]> {
  try {
    await pipe.transform(body, { type: 'body', metatype });
    return [];
  } catch (error) {
    if (!(error instanceof ProblemException)) throw error;
    expect(error.problem.status).toBe(400);
    return [...new Set(error.problem.errors!.map((item) => item.field))];
  }
}

const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
/** The same instant written at +03:00. */
const atPlusThree = (seconds: number) => `${new Date(Date.now() + seconds * 1000 + 3 * 3_600_000).toISOString().slice(0, 19)}+03:00`;
const TEN_YEARS = 10 * 365.25 * 24 * 3600;

describe('membership change bodies', () => {
  it.each<[string, object]>([
    ['slugs and items', { add: ['A', { slug: 'B.v2', ttl_seconds: 60 }], remove: ['C-1'] }],
    ['a default ttl', { add: ['A'], ttl_seconds: 3600 }],
    ['an absolute expiry', { add: [{ slug: 'A', expires_at: inSeconds(3600) }] }],
    ['an offset expiry', { add: [{ slug: 'A', expires_at: atPlusThree(86_400) }] }],
    ['nothing to do', {}],
  ])('accepts %s', async (_, body) => {
    expect(await badFields(ChangeUserSegmentsDto, body)).toEqual([]);
  });

  it.each<[string, object, string[]]>([
    ['an unknown field', { add: ['A'], ad: ['B'] }, ['ad']],
    ['a field named constructor', { constructor: 1 }, ['constructor']],
    ['an unknown field in an item', { add: [{ slug: 'A', ttl: 5 }] }, ['add[0].ttl']],
    ['a bad slug among good ones', { add: ['A', 'no spaces'], remove: ['B', '../x'] }, ['add[1].slug', 'remove[1]']],
    ['a slug of dots only', { remove: ['..'] }, ['remove[0]']],
    ['a slug too long', { add: ['x'.repeat(129)] }, ['add[0].slug']],
    ['a zero ttl', { add: [{ slug: 'A', ttl_seconds: 0 }] }, ['add[0].ttl_seconds']],
    ['a fractional ttl', { ttl_seconds: 1.5 }, ['ttl_seconds']],
    ['a ttl beyond ten years', { ttl_seconds: Math.ceil(TEN_YEARS) + 1 }, ['ttl_seconds']],
    ['a ttl as a string', { ttl_seconds: '60' }, ['ttl_seconds']],
    ['both a ttl and an expiry', { add: [{ slug: 'A', ttl_seconds: 5, expires_at: inSeconds(60) }] }, ['add[0].expires_at']],
    ['an expiry in the past', { add: [{ slug: 'A', expires_at: inSeconds(-60) }] }, ['add[0].expires_at']],
    ['an expiry beyond ten years', { add: [{ slug: 'A', expires_at: inSeconds(TEN_YEARS + 86_400) }] }, ['add[0].expires_at']],
    ['a date that does not exist', { add: [{ slug: 'A', expires_at: '2099-02-30T00:00:00Z' }] }, ['add[0].expires_at']],
    ['an expiry without an offset', { add: [{ slug: 'A', expires_at: '2099-01-01T00:00:00' }] }, ['add[0].expires_at']],
    ['a null expiry', { add: [{ slug: 'A', expires_at: null }] }, ['add[0].expires_at']],
    ['a list that is no list', { remove: 'A' }, ['remove']],
  ])('refuses %s, naming it', async (_, body, fields) => {
    expect(await badFields(ChangeUserSegmentsDto, body)).toEqual(fields);
  });

  it('turns bare slugs into items', async () => {
    const dto = (await pipe.transform(
      { add: ['A', { slug: 'B', ttl_seconds: 9 }] },
      { type: 'body', metatype: ChangeUserSegmentsDto },
    )) as ChangeUserSegmentsDto;
    expect(dto.add?.map((item) => ({ ...item }))).toEqual([{ slug: 'A' }, { slug: 'B', ttl_seconds: 9 }]);
  });

  it('treats an absent body as an empty one', async () => {
    await expect(pipe.transform(undefined, { type: 'body', metatype: ChangeUserSegmentsDto })).resolves.toBeInstanceOf(
      ChangeUserSegmentsDto,
    );
  });
});

describe('user bodies', () => {
  it.each<[string, object, string[]]>([
    ['no id (allocate one)', {}, []],
    ['the largest id', { user_id: 2 ** 53 - 1 }, []],
    ['id 0', { user_id: 0 }, ['user_id']],
    ['an id beyond 2^53 − 1', { user_id: 2 ** 53 }, ['user_id']],
    ['a fractional id', { user_id: 1.5 }, ['user_id']],
    ['an id as a string', { user_id: '7' }, ['user_id']],
  ])('registration: %s', async (_, body, fields) => {
    expect(await badFields(RegisterUserDto, body)).toEqual(fields);
  });

  it.each<[string, Type, object, string[]]>([
    [
      'bulk registration names each bad id',
      BulkRegisterUsersDto,
      { user_ids: [1, 0, 2, -4, 'x'] },
      ['user_ids[1]', 'user_ids[3]', 'user_ids[4]'],
    ],
    ['bulk registration needs an id', BulkRegisterUsersDto, { user_ids: [] }, ['user_ids']],
    ['a lookup names each bad id', LookUpUsersDto, { user_ids: [3, 1.5] }, ['user_ids[1]']],
    ['a lookup of at most 1 000 users', LookUpUsersDto, { user_ids: Array.from({ length: 1001 }, (_, index) => index + 1) }, ['user_ids']],
    ['a lookup of 1 000 users', LookUpUsersDto, { user_ids: Array.from({ length: 1000 }, (_, index) => index + 1) }, []],
  ])('%s', async (_, metatype, body, fields) => {
    expect(await badFields(metatype, body)).toEqual(fields);
  });
});

describe('segment bodies', () => {
  it.each<[string, object, string[]]>([
    ['a manual segment', { slug: 'AVITO_VOICE_MESSAGES', description: 'Voice' }, []],
    ['two decimals of percent', { slug: 'A', auto_percent: 33.33 }, []],
    ['the edges of percent', { slug: 'A', auto_percent: 100 }, []],
    ['a null percent', { slug: 'A', auto_percent: null }, []],
    ['three decimals of percent', { slug: 'A', auto_percent: 33.333 }, ['auto_percent']],
    ['a percent above 100', { slug: 'A', auto_percent: 100.01 }, ['auto_percent']],
    ['a negative percent', { slug: 'A', auto_percent: -1 }, ['auto_percent']],
    ['a percent as a string', { slug: 'A', auto_percent: '5' }, ['auto_percent']],
    ['no slug', { description: 'x' }, ['slug']],
    ['a slug with a space', { slug: 'A B' }, ['slug']],
    ['an unknown field', { slug: 'A', user_percent: 5 }, ['user_percent']],
  ])('creation: %s', async (_, body, fields) => {
    expect(await badFields(CreateSegmentDto, body)).toEqual(fields);
  });

  it('a change takes no slug', async () => {
    expect(await badFields(UpdateSegmentDto, { auto_percent: 10 })).toEqual([]);
    expect(await badFields(UpdateSegmentDto, { slug: 'B' })).toEqual(['slug']);
  });

  it.each<[string, object, string[]]>([
    ['adds and removes', { add: [1, 2], remove: [3], ttl_seconds: 60 }, []],
    ['bad ids in both lists', { add: [0], remove: [1, 2 ** 53] }, ['add[0]', 'remove[1]']],
    ['a ttl and an expiry', { add: [1], ttl_seconds: 60, expires_at: inSeconds(60) }, ['expires_at']],
  ])('bulk members: %s', async (_, body, fields) => {
    expect(await badFields(ChangeSegmentMembersDto, body)).toEqual(fields);
  });
});

describe('token bodies', () => {
  it.each<[string, object, string[]]>([
    ['a name and scopes', { name: 'checkout-service', scopes: ['read', 'write'] }, []],
    ['no scope', { name: 'x', scopes: [] }, ['scopes']],
    ['an unknown scope', { name: 'x', scopes: ['root'] }, ['scopes']],
    ['a repeated scope', { name: 'x', scopes: ['read', 'read'] }, ['scopes']],
    ['a name with a newline', { name: 'a\nb', scopes: ['read'] }, ['name']],
    ['an expiry in the past', { name: 'x', scopes: ['read'], expires_at: inSeconds(-1) }, ['expires_at']],
  ])('%s', async (_, body, fields) => {
    expect(await badFields(CreateTokenDto, body)).toEqual(fields);
  });
});
