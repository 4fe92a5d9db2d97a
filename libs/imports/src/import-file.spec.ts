import { PayloadTooLargeError } from '#libs/common';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ImportFileParser, REPORTED_BAD_LINES } from './import-file.js';

const MAX_ID = 2 ** 53 - 1;

/** Parses `chunks` as one file; returns the parser and the COPY text it wrote. */
async function parse(chunks: (string | Buffer)[], maxBytes = 1_000_000) {
  const parser = new ImportFileParser('imp', MAX_ID, maxBytes);
  const copy = await text(Readable.from(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk))).pipe(parser));
  return { parser, copy };
}

describe('import file parser (CSV of user ids)', () => {
  it('writes each id as a COPY line with its own line number, after an optional header', async () => {
    const { parser, copy } = await parse(['user_id\n1\n', '22\n333']);
    expect(copy).toBe('imp\t1\t2\nimp\t22\t3\nimp\t333\t4\n');
    expect(parser).toMatchObject({ lines: 4, ids: 3, badLines: 0, valid: true });
  });

  it('reads CRLF and lines split across chunks', async () => {
    const { copy, parser } = await parse(['12', '34\r', '\n5\r\n']);
    expect(copy).toBe('imp\t1234\t1\nimp\t5\t2\n');
    expect(parser.valid).toBe(true);
  });

  it('counts a header only on line 1', async () => {
    const { parser } = await parse(['1\nuser_id\n']);
    expect(parser.reported).toEqual([{ line: 2, message: '"user_id" is not a user id (1 … 9007199254740991)' }]);
  });

  it.each([['0'], ['-1'], ['01'], ['1.5'], ['1e3'], [' 1'], ['9007199254740992'], ['abc'], ['1;2']])(
    'refuses %j, naming its line',
    async (bad) => {
      const { parser } = await parse([`5\n${bad}\n6\n`]);
      expect(parser.valid).toBe(false);
      expect(parser.reported).toEqual([{ line: 2, message: expect.stringContaining(JSON.stringify(bad)) }]);
    },
  );

  it('refuses an empty line in the middle, but not the newline that ends the file', async () => {
    expect((await parse(['1\n\n2\n'])).parser.reported).toEqual([{ line: 2, message: 'is empty' }]);
    expect((await parse(['1\n2\n'])).parser.valid).toBe(true);
  });

  it('counts every bad line and reports the first ones, quoting at most 40 characters', async () => {
    const bad = Array.from({ length: REPORTED_BAD_LINES + 5 }, () => 'x'.repeat(50)).join('\n');
    const { parser } = await parse([bad]);
    expect(parser.badLines).toBe(REPORTED_BAD_LINES + 5);
    expect(parser.reported).toHaveLength(REPORTED_BAD_LINES);
    expect(parser.reported[0]!.message).toBe(`"${'x'.repeat(40)}…" is not a user id (1 … 9007199254740991)`);
  });

  it('has no ids in an empty file or a header alone', async () => {
    expect((await parse([''])).parser).toMatchObject({ ids: 0, lines: 0, valid: true });
    expect((await parse(['user_id\n'])).parser).toMatchObject({ ids: 0, lines: 1, valid: true });
  });

  it('ends the stream with PayloadTooLargeError beyond its byte limit', async () => {
    await expect(parse(['1\n2\n3\n', '4\n5\n6\n'], 8)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });
});
