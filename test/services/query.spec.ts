import { getDataSourceToken } from '@nestjs/typeorm';
import { queryRows } from '#libs/database';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceSuite, type ServiceSuite } from '../support/services.js';

/** queryRows writes integer and string arrays as PostgreSQL array literals itself: they must arrive exactly as given. */
describe('array parameters (service level)', () => {
  let s: ServiceSuite;
  let dataSource: DataSource;

  beforeAll(async () => {
    s = await createServiceSuite([]);
    dataSource = s.get<DataSource>(getDataSourceToken());
  });
  afterAll(async () => s?.close());

  const roundTrip = async (sql: string, value: unknown[]) =>
    (await queryRows<{ value: unknown[] }>(dataSource.manager, sql, [value]))[0]!.value;

  it('keeps every string as it is: quotes, backslashes, braces, commas, blanks, the word NULL', async () => {
    const strings = ['plain', 'NULL', 'null', '', ' padded ', 'a"b', 'a\\b', '\\"', '{x}', 'a,b', 'ünï', '𝄞', 'a"b'];
    expect(await roundTrip('SELECT $1::text[] AS value', strings)).toEqual(strings);
    expect(await roundTrip('SELECT $1::varchar[] AS value', [null, 'x', undefined])).toEqual([null, 'x', null]);
  });

  it('keeps integers up to 2^53 - 1, negatives and nulls; leaves other arrays to node-pg', async () => {
    const integers = [0, -1, 9_007_199_254_740_991, null, 42];
    expect(await roundTrip('SELECT $1::bigint[] AS value', integers)).toEqual(integers);
    expect(await roundTrip('SELECT $1::bigint[] AS value', [])).toEqual([]);
    expect(await roundTrip('SELECT $1::float8[] AS value', [1.5, 2])).toEqual([1.5, 2]);
    const instant = new Date('2026-11-29T10:00:00.123Z');
    expect(await roundTrip('SELECT $1::timestamptz[] AS value', [instant, null])).toEqual([instant, null]);
  });
});
