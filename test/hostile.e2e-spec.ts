import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, type TestApp } from './support/app.js';
import type { Response } from 'supertest';
import { expectProblem } from './support/problems.js';

/** Every route that takes a JSON body, with a valid body for it. */
const BODY_ROUTES: [string, string, object][] = [
  ['POST', '/segments', { slug: 'HOSTILE_NEW' }],
  ['PATCH', '/segments/CANARY', { description: 'x' }],
  ['POST', '/users', { user_id: 5 }],
  ['POST', '/users/bulk', { user_ids: [5] }],
  ['PATCH', '/users/1/segments', { add: ['CANARY'] }],
  ['POST', '/tokens', { name: 'x', scopes: ['read'] }],
  ['POST', '/segment', { slug: 'HOSTILE_COMPAT' }],
  ['DELETE', '/segment', { slug: 'NOT_THERE' }],
  ['POST', '/segment/user', { user_id: 1, add_segments: ['CANARY'] }],
];

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** Writes `raw` to the server as is and returns everything it answers before closing (or `waitMs`). */
function rawExchange(port: number, raw: string | Buffer, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, waitMs);
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', reject);
    socket.write(raw);
  });
}

/**
 * The hostile inputs that once got a 5xx, hung a connection or changed something silently:
 * each class has a regression test here, and none changes the canary user or segment.
 */
describe('hostile input', () => {
  let t: TestApp;
  let port: number;
  /** What the hostile requests aim at: the canary user and segment, the victim segment, and anything named HOSTILE_ they tried to create. */
  const canary = async () => ({
    user: (await t.http().get('/users/1/segments').expect(200)).body,
    history: (await t.http().get('/users/1/history').expect(200)).body,
    segment: (await t.http().get('/segments/CANARY').expect(200)).body,
    victim: (await t.http().get('/segments/VICTIM').expect(200)).body,
    created: (await t.db.query(`SELECT slug FROM segments WHERE slug LIKE 'HOSTILE%' AND slug NOT LIKE '%_OK' ORDER BY slug`)).rows,
  });
  const json = (method: string, path: string, body: string | Buffer, contentType = 'application/json') =>
    t.http()[method.toLowerCase() as 'post'](path).set('content-type', contentType).send(body);
  /** Sends `body` byte for byte (supertest would serialise a Buffer as JSON), answering like supertest for expectProblem. */
  const sendBytes = async (path: string, body: Buffer, contentType = 'application/json') => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${BOOTSTRAP_TOKEN}` },
      body: new Uint8Array(body),
    });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text), headers: Object.fromEntries(response.headers) } as unknown as Response;
  };
  let before: Awaited<ReturnType<typeof canary>>;

  beforeAll(async () => {
    t = await createTestApp({ HTTP_REQUEST_TIMEOUT_MS: 1500, HTTP_HEADERS_TIMEOUT_MS: 1000 });
    await t.http().post('/segments').send({ slug: 'CANARY', description: 'canary' }).expect(201);
    await t.http().post('/segments').send({ slug: 'VICTIM' }).expect(201);
    await t
      .http()
      .patch('/users/1/segments')
      .send({ add: ['CANARY'] })
      .expect(200);
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    before = await canary();
  });
  afterAll(async () => {
    expect(await canary()).toEqual(before);
    await t?.close();
  });

  describe('bodies', () => {
    it.each(BODY_ROUTES)('%s %s: JSON nested 10 000 levels deep is a 400', async (method, path) => {
      expectProblem(await json(method, path, `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`), 400, 'about:blank');
    });

    it.each(BODY_ROUTES)('%s %s: a null, array or scalar body is a 400', async (method, path) => {
      for (const body of ['null', '[]', '"x"', '1', 'true'])
        expectProblem(await json(method, path, body), 400, '/problems/validation-error');
    });

    it.each(BODY_ROUTES)('%s %s: unknown fields named like built-in properties are 400s', async (method, path, valid) => {
      for (const key of ['constructor', 'toString', 'prototype', 'hasOwnProperty', 'valueOf', '__proto__', '__defineGetter__']) {
        const body = JSON.stringify({ ...valid, [key]: { polluted: true } });
        const res = await json(method, path, body);
        expectProblem(res, 400, '/problems/validation-error');
        expect(res.body.errors.map((error: { field: string }) => error.field)).toContain(key);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('refuses duplicate keys, so a proxy and the service cannot read different requests', async () => {
      const res = await json('DELETE', '/segment', '{"slug":"bad!","slug":"VICTIM"}');
      expectProblem(res, 400, '/problems/validation-error');
      expect(res.body.errors).toEqual([{ field: 'slug', message: 'is given more than once in the same object' }]);
      await t.http().get('/segments/VICTIM').expect(200);
      expectProblem(await json('PATCH', '/users/1/segments', '{"add":[{"slug":"A","slug":"CANARY"}]}'), 400, '/problems/validation-error');
    });

    it('refuses NUL characters and lone surrogates instead of storing or replacing them', async () => {
      for (const description of ['a\u0000b']) {
        const res = await json('POST', '/segments', JSON.stringify({ slug: 'HOSTILE_NUL', description }));
        expectProblem(res, 400, '/problems/validation-error');
        expect(res.body.errors[0].field).toBe('description');
      }
      expectProblem(
        await json('POST', '/segments', '{"slug":"HOSTILE_SURROGATE","description":"\\ud800"}'),
        400,
        '/problems/validation-error',
      );
      expectProblem(await json('POST', '/segments', '{"slug":"HOSTILE_KEY","\\u0000":1}'), 400, '/problems/validation-error');
    });

    it('refuses invalid UTF-8, a byte order mark and other charsets', async () => {
      const invalid = Buffer.concat([Buffer.from('{"slug":"HOSTILE_UTF","description":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      expectProblem(await sendBytes('/segments', invalid), 400, 'about:blank');
      expectProblem(
        await sendBytes('/segments', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"slug":"HOSTILE_BOM"}')])),
        400,
        'about:blank',
      );
      expectProblem(await json('POST', '/segments', '{"slug":"HOSTILE_LATIN"}', 'application/json; charset=latin1'), 415, 'about:blank');
      await json('POST', '/segments', '{"slug":"HOSTILE_UTF8_OK"}', 'application/json; charset=UTF-8').expect(201);
      await t.http().delete('/segments/HOSTILE_UTF8_OK').expect(204);
    });

    it('refuses bodies with a Content-Encoding or a transfer encoding other than chunked', async () => {
      expectProblem(await json('POST', '/segments', '{"slug":"HOSTILE_GZIP"}').set('content-encoding', 'gzip'), 415, 'about:blank');
      const answer = await rawExchange(
        port,
        `POST /segments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BOOTSTRAP_TOKEN}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: gzip, chunked\r\n\r\n17\r\n{"slug":"HOSTILE_CHUNK"}\r\n0\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 415 /);
    });

    it('refuses an ambiguous Content-Type: a parameter or the header given twice (a proxy may read the other one)', async () => {
      const removal = '{"remove":["CANARY"]}';
      for (const contentType of [
        'application/json; charset=utf-8; charset=latin1',
        'application/json; charset=utf-8; CHARSET=utf-8',
        'text/csv; charset=utf-8; Charset="us-ascii"',
      ]) {
        expectProblem(await json('PATCH', '/users/1/segments', removal, contentType), 400, 'about:blank');
      }
      for (const second of ['application/json', 'text/plain']) {
        const answer = await rawExchange(
          port,
          `PATCH /users/1/segments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BOOTSTRAP_TOKEN}\r\n` +
            `Content-Type: application/json\r\nContent-Type: ${second}\r\nContent-Length: ${removal.length}\r\nConnection: close\r\n\r\n${removal}`,
        );
        expect(answer).toMatch(/^HTTP\/1\.1 400 [\s\S]*application\/problem\+json[\s\S]*Content-Type header/);
      }
      await json('PATCH', '/users/1/segments', '{}', 'application/json; charset=utf-8;').expect(200);
    });

    it('echoes at most a short prefix of a huge unknown field', async () => {
      const res = await json('POST', '/segments', JSON.stringify({ slug: 'HOSTILE_HUGE', ['k'.repeat(3_000)]: 1 }));
      expectProblem(res, 400, '/problems/validation-error');
      expect(res.text.length).toBeLessThan(2_000);
    });
  });

  describe('numbers and dates', () => {
    it('validates exponent-form numbers like any other', async () => {
      for (const percent of ['1e-9', '1e3', '100.001', '-0.5', '1e400', '33.333']) {
        expectProblem(
          await json('POST', '/segments', `{"slug":"HOSTILE_PCT","auto_percent":${percent}}`),
          400,
          '/problems/validation-error',
        );
        expectProblem(
          await json('POST', '/segment', `{"slug":"HOSTILE_PCT","user_percent":${percent}}`),
          400,
          '/problems/validation-error',
        );
      }
      await json('POST', '/segments', '{"slug":"HOSTILE_PCT_OK","auto_percent":1.5e1}').expect(201);
    });

    it('refuses expires_at: null (never an expiry in 1970) and other nulls that stand for nothing', async () => {
      for (const body of [
        { add: [{ slug: 'CANARY', expires_at: null }] },
        { add: [{ slug: 'CANARY', ttl_seconds: null }] },
        { add: null },
        { remove: null },
        { ttl_seconds: null },
      ]) {
        expectProblem(await t.http().patch('/users/1/segments').send(body), 400, '/problems/validation-error');
      }
      expectProblem(await t.http().post('/users').send({ user_id: null }), 400, '/problems/validation-error');
      expectProblem(
        await t
          .http()
          .post('/tokens')
          .send({ name: 'x', scopes: ['read'], expires_at: null }),
        400,
        '/problems/validation-error',
      );
    });

    it.each([
      '2027-02-30T00:00:00Z',
      '2027-06-31T12:00:00+02:00',
      '2027-13-01T00:00:00Z',
      '2027-01-01T24:00:00Z',
      '2027-01-01T00:00:00',
      '2027-01-01',
      '2027-01-01T00:00:00+25:00',
    ])('refuses the instant %s instead of rolling it over', async (instant) => {
      expectProblem(
        await t
          .http()
          .patch('/users/1/segments')
          .send({ add: [{ slug: 'CANARY', expires_at: instant }] }),
        400,
        '/problems/validation-error',
      );
      expectProblem(await t.http().get('/users/1/history').query({ from: instant }), 400, '/problems/validation-error');
    });

    it.each(['1e2', '0x10', ' 1', '%201', '01', '1.0', '-1', '+1'])('refuses the query integer %s', async (value) => {
      expectProblem(await t.http().get(`/segments?limit=${value}`), 400, '/problems/validation-error');
      const month = new Date().getUTCMonth() + 1;
      expectProblem(
        await t.http().get(`/reports/segment-history?year=2026&month=${month}&user_id=${value}`),
        400,
        '/problems/validation-error',
      );
    });
  });

  describe('cursors and signed tokens', () => {
    const cursors = [
      '["\\u0000"]',
      '[1.5]',
      '[1e21]',
      '[-1]',
      '[true]',
      '[]',
      '{}',
      'null',
      '["2026-01-01T00:00:00.000Z",123456789012345678901]',
      '["99999-01-01T00:00:00.000Z",1]',
    ];

    it.each(cursors)('refuses the cursor %s on every list', async (decoded) => {
      const cursor = base64(decoded);
      for (const path of ['/segments', '/segments/CANARY/users', '/users/1/history', '/tokens']) {
        expectProblem(await t.http().get(path).query({ cursor }), 400, '/problems/validation-error');
      }
    });

    it('refuses a correctly signed report token with out-of-range values', async () => {
      for (const payload of [
        { y: 2026, m: 1, f: 'csv', a: 8.64e15 + 1, e: 8.64e15 + 2 },
        { y: 2026, m: 1, u: 2 ** 60, f: 'csv', a: 0, e: 9e15 },
      ]) {
        const body = base64(JSON.stringify(payload));
        const signature = createHmac('sha256', t.config.REPORT_LINK_SECRET).update(body).digest('base64url');
        expectProblem(await t.http().get(`/reports/segment-history/${body}.${signature}`), 403, '/problems/invalid-report-link');
      }
    });
  });

  describe('slugs', () => {
    it.each(['.', '..', '...', '_', '-', '._-'])('refuses the slug %j, which holds no letter or digit', async (slug) => {
      expectProblem(await t.http().post('/segments').send({ slug }), 400, '/problems/validation-error');
      expectProblem(await t.http().post('/segment').send({ slug }), 400, '/problems/validation-error');
    });
  });

  describe('id allocation', () => {
    it('keeps allocating ids whatever ids callers registered, the largest one included', async () => {
      const allocated = (await t.http().post('/users').send({}).expect(201)).body.user_id as number;
      await t
        .http()
        .post('/users/bulk')
        .send({ user_ids: Array.from({ length: 50 }, (_, index) => allocated + 1 + index) })
        .expect(200);
      await t.http().post('/users').send({ user_id: Number.MAX_SAFE_INTEGER }).expect(201);
      const next = new Set<number>();
      for (let attempt = 0; attempt < 5; attempt++) {
        next.add((await t.http().post('/users').send({}).expect(201)).body.user_id);
        next.add((await t.http().post('/user').expect(201)).body.user_id);
      }
      expect(next.size).toBe(10);
      await t.db.query(`SELECT setval('users_allocated_id_seq', 9007199254740989)`);
      const wrapped = [
        (await t.http().post('/users').send({}).expect(201)).body.user_id,
        (await t.http().post('/users').send({}).expect(201)).body.user_id,
      ];
      expect(wrapped[0]).toBe(9007199254740990);
      expect(wrapped[1]).toBeLessThan(9007199254740990);
      await t.db.query(`DELETE FROM users WHERE id <> 1 AND id NOT IN (SELECT user_id FROM memberships)`);
    });
  });

  describe('HTTP', () => {
    it('answers a half-sent body with 408 and closes the connection', async () => {
      const started = Date.now();
      const answer = await rawExchange(
        port,
        `POST /segments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"slug":`,
        10_000,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('application/problem+json');
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('answers what the HTTP parser refuses with problem+json', async () => {
      expect(await rawExchange(port, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 [\s\S]*application\/problem\+json[\s\S]*"status":400/);
      const huge = await rawExchange(port, `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431 [\s\S]*"status":431/);
    });

    it('refuses a missing, doubled or invalid Host, and never builds links from Host', async () => {
      for (const hosts of ['', 'Host: a.example\r\nHost: b.example\r\n', 'Host: evil.example/path\r\n', 'Host: ex ample\r\n']) {
        const answer = await rawExchange(port, `GET /health/live HTTP/1.1\r\n${hosts}Connection: close\r\n\r\n`);
        expect(answer, hosts).toMatch(/^HTTP\/1\.1 400 [\s\S]*application\/problem\+json/);
      }
      const month = new Date().getUTCMonth() + 1;
      const res = await t.http().get(`/reports/segment-history?year=2026&month=${month}`).set('host', 'evil.example').expect(200);
      expect(res.body.report_url.startsWith(`${t.config.PUBLIC_BASE_URL}/`)).toBe(true);
    });
  });
});
