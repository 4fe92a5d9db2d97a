import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, type TestApp } from './support/app.js';
import { openApiDocument } from './support/contract.js';

/**
 * Property-based fuzzing of every operation in openapi.json: requests generated from the
 * document's schemas (valid ones, and hostile ones from a corpus of known-bad values, keys and
 * raw bodies, and CSV files for imports). Every answer must come within the deadline and be a
 * 2xx, or a 4xx as problem+json; never a 5xx; a hostile request always a 4xx. Hostile requests
 * aim at a canary user and segment, which no valid request touches: after every request, a digest
 * of the canary segment (its row, members, opt-outs and history) and of the canary user's
 * memberships in it must be what it was. Every operation must have been exercised. FUZZ_RUNS sets
 * the number of requests (`npm run test:fuzz` runs many).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const DEADLINE_MS = 5_000;
const CANARY_USER = 1;
const CANARY_SEGMENT = 'CANARY';
const SLUGS = ['FUZZ_A', 'FUZZ_B', 'FUZZ_AUTO'];

type Schema = { $ref?: string; [key: string]: unknown };
interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema: Schema;
}
interface Operation {
  operationId: string;
  /** Ways to call it; an empty one (`{}`) lets anyone call it (health, report links). */
  security?: Record<string, unknown>[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface FuzzRequest {
  operationId: string;
  method: string;
  path: string;
  /** JSON text, or bytes written as latin1 characters when `bytes` (invalid UTF-8 needs them). */
  body?: string;
  bytes?: boolean;
  contentType?: string;
  authorization?: string;
  hostile: boolean;
}

const HOSTILE_VALUES: unknown[] = [
  null,
  '',
  ' ',
  '\u0000',
  '\ud800',
  'x'.repeat(5000),
  -1,
  0,
  1.5,
  1e21,
  1e-9,
  2 ** 53 + 2,
  true,
  [],
  {},
  [[[[[[]]]]]],
  '2027-02-30T00:00:00Z',
  '1e3',
  '0x10',
  '../..',
  "' OR 1=1 --",
  { slug: 'CANARY', __extra: 1 },
];
const HOSTILE_KEYS = ['constructor', '__proto__', 'toString', 'prototype', 'valueOf', 'hasOwnProperty', 'k'.repeat(3000), '', 'slug '];
const HOSTILE_RAW_BODIES: (string | Buffer)[] = [
  `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  '{"slug":"bad!","slug":"CANARY"}',
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')]),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
  'null',
  '[]',
  '"CANARY"',
  '42',
  '{',
  '{"a":1,}',
  '{"description":"\\ud800"}',
  '{"description":"a\\u0000b"}',
];
/**
 * CSV files aimed at the canary segment (mode replace): each has a bad line, or is no UTF-8 text
 * at all, so the import changes nothing (a file with a bad line is accepted and fails: 202).
 */
const HOSTILE_CSV_BODIES: (string | Buffer)[] = [
  'user_id\n2\n-5\n',
  '2\n3\nabc\n',
  '0\n',
  '9007199254740992\n',
  '1e3\n',
  ` 2\n`,
  `${'9'.repeat(400)}\n`,
  'user_id,segment\n2,A\n',
  '2\u0000\n',
  Buffer.from([0x32, 0x0a, 0xc3, 0x28, 0x0a]),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('2\n')]),
];

/**
 * Path values no user id is; of them, those that are no slug either (a slug may well be `0x10`).
 * (A bare `..` never reaches the service: the client resolves it away; `%2e%2e` does.)
 */
const HOSTILE_PATH_VALUES = ['0', '-1', '1e3', '0x10', '%20', '%2e%2e', 'a%00b', '9007199254740992', '%FF', 'x'.repeat(300)];
const isSlug = (value: string) => /^[A-Za-z0-9_.-]{1,128}$/.test(value) && /[A-Za-z0-9]/.test(value);
/** Whether a route refuses `value` as its path parameter `parameter` wherever it stands. */
const refusedInPath = (parameter: Parameter, value: string) =>
  HOSTILE_PATH_VALUES.includes(value) && (parameter.name !== 'slug' || !isSlug(value));

const resolve = (schema: Schema): Schema =>
  schema.$ref ? resolve(openApiDocument.components.schemas[schema.$ref.split('/').at(-1)!] as Schema) : schema;

/** Values the schema accepts (as far as generation goes; the service may still refuse them, with a 4xx). */
function valueOf(input: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(input);
  const options = schema.oneOf ?? schema.anyOf;
  if (Array.isArray(options)) return fc.oneof(...(options as Schema[]).map((option) => valueOf(option, depth)));
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.type === 'null') return fc.constant(null);
  // OpenAPI 3.1: a nullable value is typed [type, "null"].
  const types = [schema.type].flat();
  let arbitrary: fc.Arbitrary<unknown>;
  switch (types.find((type) => type !== 'null')) {
    case 'integer':
      // From 2: a body's user_id (or any other integer) never names the canary user in a valid request.
      arbitrary = fc.integer({ min: Math.max(Number(schema.minimum ?? 0), 2), max: Math.min(Number(schema.maximum ?? 1e9), 1e9) });
      break;
    case 'number':
      arbitrary = fc.integer({ min: 0, max: 10_000 }).map((hundredths) => hundredths / 100);
      break;
    case 'boolean':
      arbitrary = fc.boolean();
      break;
    case 'array':
      arbitrary = depth > 3 ? fc.constant([]) : fc.array(valueOf(schema.items as Schema, depth + 1), { maxLength: 4 });
      break;
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (schema.required ?? []) as string[];
      arbitrary =
        depth > 3
          ? fc.constant({})
          : fc.record(Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, valueOf(property, depth + 1)])), {
              requiredKeys: required,
            });
      break;
    }
    default:
      if (schema.format === 'date-time') {
        arbitrary = fc.integer({ min: 60, max: 3600 * 24 * 365 }).map((seconds) => new Date(Date.now() + seconds * 1000).toISOString());
      } else if (schema.format === 'uuid') arbitrary = fc.uuid();
      else if (typeof schema.pattern === 'string') arbitrary = fc.constantFrom(...SLUGS, 'FUZZ_NEW');
      else arbitrary = fc.string({ maxLength: Math.min(Number(schema.maxLength ?? 40), 40) });
  }
  return types.includes('null') ? fc.option(arbitrary, { nil: null }) : arbitrary;
}

/** A valid value for a parameter, away from the canary. */
function parameterValue(parameter: Parameter): fc.Arbitrary<string> {
  if (parameter.name === 'user_id') return fc.integer({ min: 2, max: 5000 }).map(String);
  if (parameter.name === 'slug') return fc.constantFrom(...SLUGS, 'FUZZ_MISSING');
  if (parameter.name === 'year') return fc.integer({ min: 2024, max: new Date().getUTCFullYear() }).map(String);
  if (parameter.name === 'month') return fc.integer({ min: 1, max: 12 }).map(String);
  return valueOf(parameter.schema).map(String);
}

function requestsFor(path: string, method: string, operation: Operation): fc.Arbitrary<FuzzRequest> {
  const parameters = operation.parameters ?? [];
  const bodySchema = operation.requestBody?.content['application/json']?.schema;
  const csv = operation.requestBody?.content['text/csv'] !== undefined;
  const build = (values: Record<string, string | undefined>) => {
    let url = path;
    const query = new URLSearchParams();
    for (const parameter of parameters) {
      const value = values[parameter.name];
      if (value === undefined) continue;
      if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, value);
      else query.set(parameter.name, value);
    }
    return `${url}${query.size ? `?${query}` : ''}`;
  };
  const validParameters = fc.record(Object.fromEntries(parameters.map((parameter) => [parameter.name, parameterValue(parameter)])), {
    requiredKeys: parameters.filter((parameter) => parameter.required || parameter.in === 'path').map((parameter) => parameter.name),
  });
  /** The canary as every path parameter that can name it; hostile requests aim there. */
  const atCanary = Object.fromEntries(
    parameters
      .filter((parameter) => parameter.in === 'path')
      .map((parameter) => [parameter.name, parameter.name === 'slug' ? CANARY_SEGMENT : String(CANARY_USER)]),
  );
  const base = { operationId: operation.operationId, method: method.toUpperCase() };
  const needsToken = (operation.security ?? []).length > 0 && (operation.security ?? []).every((way) => Object.keys(way).length > 0);

  const valid = csv
    ? fc
        .record({ values: validParameters, ids: fc.array(fc.integer({ min: 2, max: 5000 }), { maxLength: 20 }), header: fc.boolean() })
        .map(({ values, ids, header }): FuzzRequest => ({
          ...base,
          path: build(values as Record<string, string>),
          body: `${header ? 'user_id\n' : ''}${ids.map((id) => `${id}\n`).join('')}`,
          contentType: 'text/csv',
          hostile: false,
        }))
    : fc
        .record({ values: validParameters, body: bodySchema ? valueOf(bodySchema) : fc.constant(undefined) })
        .map(({ values, body }): FuzzRequest => ({
          ...base,
          path: build(values as Record<string, string>),
          body: body === undefined ? undefined : JSON.stringify(body),
          contentType: body === undefined ? undefined : 'application/json',
          hostile: false,
        }));
  // A file with a bad line is a well-formed request (202, a failed import), not a hostile one; it must change nothing all the same.
  const withBadFile = fc.constantFrom(...HOSTILE_CSV_BODIES).map((raw): FuzzRequest => ({
    ...base,
    path: `${build(atCanary)}?mode=replace`,
    body: typeof raw === 'string' ? raw : raw.toString('latin1'),
    bytes: typeof raw !== 'string',
    contentType: 'text/csv',
    hostile: false,
  }));
  const withHostileKey = fc
    .record({
      body: bodySchema ? valueOf(bodySchema) : fc.constant({}),
      key: fc.constantFrom(...HOSTILE_KEYS),
      value: fc.constantFrom(...HOSTILE_VALUES),
    })
    .map(({ body, key, value }): FuzzRequest => {
      const text = JSON.stringify(body);
      const injected = `{${JSON.stringify(key)}:${JSON.stringify(value)}${text === '{}' ? '' : `,${text.slice(1, -1)}`}}`;
      return { ...base, path: build(atCanary), body: injected, contentType: 'application/json', hostile: true };
    });
  const withRawBody = fc.constantFrom(...HOSTILE_RAW_BODIES).map((raw): FuzzRequest => ({
    ...base,
    path: build(atCanary),
    body: typeof raw === 'string' ? raw : raw.toString('latin1'),
    bytes: typeof raw !== 'string',
    contentType: 'application/json',
    hostile: true,
  }));
  const withHostileValue = fc
    .record({
      values: validParameters,
      body: bodySchema ? valueOf(bodySchema) : fc.constant({}),
      value: fc.constantFrom(...HOSTILE_VALUES),
    })
    .chain(({ values, body, value }) => {
      const keys = Object.keys(body as object);
      return (keys.length ? fc.constantFrom(...keys) : fc.constant('anything')).map((key): FuzzRequest => ({
        ...base,
        path: build(values as Record<string, string>),
        body: JSON.stringify({ ...(body as object), [key]: value }),
        contentType: 'application/json',
        hostile: false,
      }));
    });
  const withHostileParameter = fc
    .record({
      values: validParameters,
      name: parameters.length ? fc.constantFrom(...parameters.map((parameter) => parameter.name)) : fc.constant(''),
      value: fc.constantFrom(...HOSTILE_PATH_VALUES, ...HOSTILE_VALUES.map(String)),
    })
    .map(({ values, name, value }): FuzzRequest => {
      const parameter = parameters.find((candidate) => candidate.name === name);
      // A hostile path value is refused wherever it stands; a query value may be harmless, so it stays off the canary.
      const refused = parameter?.in === 'path' && refusedInPath(parameter, value);
      const aimed = refused ? { ...atCanary, [name]: value } : { ...(values as object), [name]: value };
      return { ...base, path: build(aimed), hostile: refused };
    });
  const withBadAuthorization = fc
    .constantFrom('Bearer', 'Basic abc', `Bearer ${'x'.repeat(400)}`, 'Bearer seg_forged', '')
    .map((authorization): FuzzRequest => ({ ...base, path: build(atCanary), authorization, hostile: needsToken }));
  // GET requests carry no body (fetch refuses to send one).
  const withBodies = method === 'get' ? [] : csv ? [withBadFile, withRawBody] : [withHostileValue, withHostileKey, withRawBody];
  return fc.oneof(valid, valid, ...withBodies, withHostileParameter, withBadAuthorization);
}

describe('fuzzing every operation of openapi.json', () => {
  let t: TestApp;
  let base: string;
  /** The data no valid request touches (valid requests may change the FUZZ_ segments the canary user is in, never the canary segment). */
  const canary = async (): Promise<string> => {
    const { rows } = await t.db.query(
      `SELECT md5(concat_ws('|',
         (SELECT row_to_json(s)::text FROM segments s WHERE slug = $1 AND deleted_at IS NULL),
         (SELECT string_agg(m.user_id || ':' || m.source || ':' || coalesce(m.expires_at::text, '-'), ',' ORDER BY m.user_id)
            FROM memberships m JOIN segments s ON s.id = m.segment_id WHERE s.slug = $1),
         (SELECT string_agg(o.user_id::text, ',' ORDER BY o.user_id)
            FROM segment_opt_outs o JOIN segments s ON s.id = o.segment_id WHERE s.slug = $1),
         (SELECT string_agg(h.id || ':' || h.user_id || ':' || h.operation, ',' ORDER BY h.id) FROM membership_history h WHERE h.segment_slug = $1)
       )) AS digest`,
      [CANARY_SEGMENT],
    );
    return rows[0].digest as string;
  };

  beforeAll(async () => {
    t = await createTestApp();
    for (const slug of [CANARY_SEGMENT, ...SLUGS.filter((slug) => slug !== 'FUZZ_AUTO')])
      await t.http().post('/segments').send({ slug }).expect(201);
    await t.http().post('/segments').send({ slug: 'FUZZ_AUTO', auto_percent: 50 }).expect(201);
    await t
      .http()
      .patch(`/users/${CANARY_USER}/segments`)
      .send({ add: [CANARY_SEGMENT, 'FUZZ_A'] })
      .expect(200);
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it(`answers ${RUNS} generated requests with a 2xx or a 4xx problem, in time, and hostile ones change nothing`, async () => {
    const before = await canary();
    const operations = Object.entries(openApiDocument.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => requestsFor(path, method, operation)),
    );
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(...operations), async (request) => {
        seen.set(request.operationId, (seen.get(request.operationId) ?? 0) + 1);
        const started = Date.now();
        const headers: Record<string, string> = { authorization: request.authorization ?? `Bearer ${BOOTSTRAP_TOKEN}` };
        if (request.authorization === '') delete headers.authorization;
        if (request.contentType) headers['content-type'] = request.contentType;
        const response = await fetch(`${base}${request.path}`, {
          method: request.method,
          headers,
          body: request.body === undefined ? undefined : new Uint8Array(Buffer.from(request.body, request.bytes ? 'latin1' : 'utf8')),
          signal: AbortSignal.timeout(DEADLINE_MS),
        });
        // An event stream never ends: its start is the answer.
        const streaming = response.ok && response.headers.get('content-type')?.startsWith('text/event-stream');
        const text = streaming ? (await response.body?.cancel(), '') : await response.text();
        const where = `${request.method} ${request.path.slice(0, 200)} ${request.body?.slice(0, 200) ?? ''} → ${response.status} ${text.slice(0, 300)}`;
        expect(response.status, where).toBeLessThan(500);
        if (request.hostile) expect(response.status, `hostile, so refused: ${where}`).toBeGreaterThanOrEqual(400);
        if (response.status >= 400) {
          expect(response.headers.get('content-type'), where).toMatch(/^application\/problem\+json/);
          expect(JSON.parse(text), where).toMatchObject({ status: response.status, type: expect.any(String) });
        }
        expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
        expect(await canary(), `the canary changed: ${where}`).toBe(before);
      }),
      {
        numRuns: RUNS,
        seed: process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED),
        // The failing request in a few hundred characters (a generated body can be megabytes), with the seed to replay it.
        reporter: (run) => {
          if (!run.failed) return;
          const request = run.counterexample?.[0];
          throw new Error(
            `fuzz failed (FUZZ_SEED=${run.seed}): ${request?.method} ${request?.path.slice(0, 200)} ${request?.body?.slice(0, 200) ?? ''}\n${String(run.errorInstance).slice(0, 1000)}`,
          );
        },
      },
    );
    console.log(`fuzz: ${RUNS} cases over ${seen.size} operations (${[...seen].map(([id, count]) => `${id} ${count}`).join(', ')})`);
    const operationIds = Object.values(openApiDocument.paths as Record<string, Record<string, Operation>>).flatMap((item) =>
      Object.values(item).map((operation) => operation.operationId),
    );
    expect([...seen.keys()].sort(), 'every operation exercised').toEqual(operationIds.sort());
  }, 600_000);
});
