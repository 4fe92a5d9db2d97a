import { ProblemException } from '#libs/http';
import { describe, expect, it } from 'vitest';
import { ParseSlugPipe, ParseUserIdPipe, ParseUuidPipe } from './params.js';

/** The field a pipe refuses a value for, or the value it accepts. */
function outcome<T>(pipe: { transform: (value: string) => T }, value: string): T | string {
  try {
    return pipe.transform(value);
  } catch (error) {
    if (!(error instanceof ProblemException)) throw error;
    expect(error.problem.status).toBe(400);
    return `400 ${error.problem.errors![0]!.field}`;
  }
}

describe('path parameter pipes', () => {
  it.each<[string, number | string]>([
    ['1', 1],
    ['1000', 1000],
    ['9007199254740991', 2 ** 53 - 1],
    ['9007199254740992', '400 user_id'],
    ['0', '400 user_id'],
    ['01', '400 user_id'],
    ['-1', '400 user_id'],
    ['1e3', '400 user_id'],
    ['0x10', '400 user_id'],
    [' 1', '400 user_id'],
    ['1.0', '400 user_id'],
    ['', '400 user_id'],
  ])('user id %j → %s', (value, expected) => {
    expect(outcome(new ParseUserIdPipe(), value)).toBe(expected);
  });

  it.each<[string, string]>([
    ['AVITO_VOICE_MESSAGES', 'AVITO_VOICE_MESSAGES'],
    ['a.b-c_1', 'a.b-c_1'],
    ['x'.repeat(128), 'x'.repeat(128)],
    ['x'.repeat(129), '400 slug'],
    ['..', '400 slug'],
    ['a b', '400 slug'],
    ['ä', '400 slug'],
    ['', '400 slug'],
  ])('slug %j → %s', (value, expected) => {
    expect(outcome(new ParseSlugPipe(), value)).toBe(expected);
  });

  it.each<[string, string]>([
    ['0b8f3c2e-4d5a-4e6f-8a7b-9c0d1e2f3a4b', '0b8f3c2e-4d5a-4e6f-8a7b-9c0d1e2f3a4b'],
    ['0B8F3C2E-4D5A-4E6F-8A7B-9C0D1E2F3A4B', '400 id'],
    ['0b8f3c2e4d5a4e6f8a7b9c0d1e2f3a4b', '400 id'],
    ['42', '400 id'],
  ])('uuid %j → %s', (value, expected) => {
    expect(outcome(new ParseUuidPipe(), value)).toBe(expected);
  });
});
