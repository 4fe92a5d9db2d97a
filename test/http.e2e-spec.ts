import { SegmentsService } from '#libs/segments';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

describe('HTTP edge cases', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BODY_LIMIT_BYTES: 4096 });
  });
  afterAll(async () => t?.close());

  it('answers malformed JSON with a 400 problem', async () => {
    const res = await t.http().post('/segments').set('content-type', 'application/json').send('{"slug": "A"');
    expectProblem(res, 400, 'about:blank');
  });

  it.each([
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"AVITO"'],
    ['a number', '42'],
  ])('answers a body that is %s with a 400 problem', async (_label, body) => {
    const res = await t.http().post('/segments').set('content-type', 'application/json').send(body);
    expectProblem(res, 400, '/problems/validation-error');
  });

  it('answers an oversize body with 413 and applies nothing', async () => {
    const res = await t
      .http()
      .post('/segments')
      .send({ slug: 'BIG', description: 'x'.repeat(5000) });
    expectProblem(res, 413, 'about:blank');
    await t.http().get('/segments/BIG').expect(404);
  });

  it('answers a body that is not JSON with 415', async () => {
    const res = await t.http().post('/segments').set('content-type', 'text/plain').send('slug=A');
    expectProblem(res, 415, 'about:blank');
  });

  it('answers unknown routes and methods with a 404 problem', async () => {
    expectProblem(await t.http().get('/nowhere'), 404, 'about:blank');
    expectProblem(await t.http().put('/segments'), 404, 'about:blank');
    expectProblem(await t.http().get('/../../etc/passwd'), 404, 'about:blank');
  });

  it('answers an overlong path parameter with a 414 problem', async () => {
    expectProblem(await t.http().get(`/segments/${'A'.repeat(2000)}`), 414, 'about:blank');
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const echoed = await t.http().get('/nowhere').set('x-request-id', 'req-123.abc');
    expect(echoed.headers['x-request-id']).toBe('req-123.abc');
    expect(echoed.body.request_id).toBe('req-123.abc');
    const replaced = await t.http().get('/segments').set('x-request-id', 'bad id\twith spaces');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('unexpected failures', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, (builder) =>
      builder.overrideProvider(SegmentsService).useValue({
        list: () => Promise.reject(new Error('connection to 10.0.0.7 failed: password "hunter2" rejected')),
      }),
    );
  });
  afterAll(async () => t?.close());

  it('answers 500 without leaking internals', async () => {
    const res = await t.http().get('/segments').set('x-request-id', 'failing-request');
    expectProblem(res, 500, 'about:blank');
    expect(res.body.request_id).toBe('failing-request');
    expect(JSON.stringify(res.body)).not.toMatch(/hunter2|10\.0\.0\.7|stack|connection/);
  });
});
