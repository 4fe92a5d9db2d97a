import { isUtf8 } from 'node:buffer';
import type { ProblemFieldError } from './problem.js';

/** Deepest nesting of arrays and objects a request body may have; the API's deepest is 3. */
export const MAX_JSON_DEPTH = 16;

/** Why a body was refused, as a 400 or 415 problem. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 415,
    message: string,
    readonly errors?: ProblemFieldError[],
  ) {
    super(message);
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The one parser of JSON request bodies. Nothing (an empty body) is `undefined`; anything
 * else must be a JSON object in UTF-8 without a byte order mark, nested at most
 * MAX_JSON_DEPTH deep, without duplicate keys (a proxy reading the first of two keys and the
 * service reading the last would see two different requests) and without `__proto__` keys;
 * no string or key may hold a NUL character or a lone surrogate. Depth and duplicates are
 * checked by one scan of the text before JSON.parse, so nothing recurses over hostile nesting.
 */
export function parseJsonBody(body: Buffer): object | undefined {
  if (body.length === 0) return undefined;
  if (body.subarray(0, 3).equals(BOM)) throw new BodyError(400, 'The body starts with a byte order mark; send UTF-8 without one');
  if (!isUtf8(body)) throw new BodyError(400, 'The body is not valid UTF-8');
  const text = body.toString('utf8');
  scanStructure(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BodyError(400, `The body is not valid JSON: ${(error as Error).message.slice(0, 100)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BodyError(400, 'The body must be a JSON object', [{ field: 'body', message: 'must be a JSON object' }]);
  }
  const errors: ProblemFieldError[] = [];
  checkText(value, '', errors);
  if (errors.length > 0) throw new BodyError(400, `${errors.length} invalid field${errors.length === 1 ? '' : 's'}`, errors.slice(0, 20));
  return value;
}

/** Nesting depth, duplicate keys and `__proto__`, in one pass over the text (strings skipped, keys decoded). */
function scanStructure(text: string): void {
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 0x22) {
      const start = index;
      for (index++; index < text.length; index++) {
        const next = text.charCodeAt(index);
        if (next === 0x5c) index++;
        else if (next === 0x22) break;
      }
      const keys = open.at(-1);
      if (keys && expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(start, index + 1)) as string;
        } catch {
          return; // JSON.parse reports the malformed string.
        }
        if (key === '__proto__')
          throw new BodyError(400, 'The body has a "__proto__" key', [{ field: '__proto__', message: 'is not accepted' }]);
        if (keys.has(key))
          throw new BodyError(400, 'The body repeats a key', [{ field: key, message: 'is given more than once in the same object' }]);
        keys.add(key);
        expectKey = false;
      }
    } else if (code === 0x7b || code === 0x5b) {
      open.push(code === 0x7b ? new Set() : null);
      expectKey = code === 0x7b;
      if (open.length > MAX_JSON_DEPTH) throw new BodyError(400, `The body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (code === 0x7d || code === 0x5d) {
      open.pop();
      expectKey = false;
    } else if (code === 0x2c) {
      expectKey = open.at(-1) instanceof Set;
    }
  }
}

/** NUL characters and lone surrogates (JSON escapes allow both) are refused wherever they are. */
function checkText(value: unknown, path: string, errors: ProblemFieldError[]): void {
  const bad = (text: string) => text.includes('\u0000') || !text.isWellFormed();
  if (typeof value === 'string') {
    if (bad(value)) errors.push({ field: path || 'body', message: 'must not contain NUL characters or unpaired surrogates' });
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkText(item, `${path}[${index}]`, errors));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const field = path ? `${path}.${key}` : key;
      if (bad(key)) errors.push({ field: JSON.stringify(key).slice(1, -1), message: 'is not a valid key' });
      else checkText(item, field, errors);
    }
  }
}
