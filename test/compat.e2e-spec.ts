import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { expectProblem } from './support/problems.js';

describe('compatibility routes of the original service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('POST /user allocates a new user', async () => {
    const first = await t.http().post('/user').expect(201);
    const second = await t.http().post('/user').send({}).expect(201);
    expect(Object.keys(first.body)).toEqual(['user_id']);
    expect(Number.isSafeInteger(first.body.user_id)).toBe(true);
    expect(second.body.user_id).not.toBe(first.body.user_id);
    expectProblem(await t.http().post('/user').send({ user_id: 5 }), 400, '/problems/validation-error');
  });

  it('POST /segment creates a segment and answers its creation time', async () => {
    const res = await t.http().post('/segment').send({ slug: 'AVITO_VOICE_MESSAGES' }).expect(201);
    expect(res.body).toEqual({ created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const auto = await t.http().post('/segment').send({ slug: 'AVITO_AUTO', user_percent: 25 }).expect(201);
    expect(Object.keys(auto.body)).toEqual(['created_at']);
    expect((await t.http().get('/segments/AVITO_AUTO').expect(200)).body.auto_percent).toBe(25);
    // Out of the way of the next tests, whose new users it would otherwise be given to.
    await t.http().delete('/segments/AVITO_AUTO').expect(204);
    expectProblem(await t.http().post('/segment').send({ slug: 'AVITO_VOICE_MESSAGES' }), 409, '/problems/conflict');
    expectProblem(await t.http().post('/segment').send({ slug: 'X', user_percent: 101 }), 400, '/problems/validation-error');
  });

  it('POST /segment/user adds and removes, counting what really changed', async () => {
    await t.http().post('/segment').send({ slug: 'AVITO_DISCOUNT_30' }).expect(201);
    const first = await t
      .http()
      .post('/segment/user')
      .send({ user_id: 1000, add_segments: ['AVITO_VOICE_MESSAGES', 'AVITO_DISCOUNT_30'], delete_segments: [] })
      .expect(200);
    expect(first.body).toEqual({ segments_added: 2, segments_deleted: 0 });
    const second = await t
      .http()
      .post('/segment/user')
      .send({ user_id: 1000, add_segments: ['AVITO_VOICE_MESSAGES'], delete_segments: ['AVITO_DISCOUNT_30'] })
      .expect(200);
    expect(second.body).toEqual({ segments_added: 0, segments_deleted: 1 });
    expect((await t.http().get('/segment/user/1000').expect(200)).body).toEqual({ segments: [{ slug: 'AVITO_VOICE_MESSAGES' }] });
  });

  it('POST /segment/user applies ttl in seconds', async () => {
    await t
      .http()
      .post('/segment/user')
      .send({ user_id: 1001, add_segments: ['AVITO_DISCOUNT_30'], ttl: 3600 })
      .expect(200);
    const [segment] = (await t.http().get('/users/1001/segments').expect(200)).body.segments;
    expect(Date.parse(segment.expires_at) - Date.now()).toBeGreaterThan(3_500_000);
  });

  it('POST /segment/user is atomic and names unknown slugs by the original field names', async () => {
    const res = await t
      .http()
      .post('/segment/user')
      .send({ user_id: 1002, add_segments: ['AVITO_VOICE_MESSAGES'], delete_segments: ['NOPE'] });
    expectProblem(res, 422, '/problems/unknown-segments');
    expect(res.body.errors).toEqual([{ field: 'delete_segments[0]', message: 'segment "NOPE" does not exist' }]);
    expect((await t.http().get('/segment/user/1002').expect(200)).body).toEqual({ segments: [] });
    expectProblem(
      await t
        .http()
        .post('/segment/user')
        .send({ add_segments: ['A'] }),
      400,
      '/problems/validation-error',
    );
  });

  it('DELETE /segment deletes by slug in the body', async () => {
    await t.http().post('/segment').send({ slug: 'TO_DELETE' }).expect(201);
    await t
      .http()
      .post('/segment/user')
      .send({ user_id: 1003, add_segments: ['TO_DELETE'] })
      .expect(200);
    expect((await t.http().delete('/segment').send({ slug: 'TO_DELETE' }).expect(200)).body).toEqual({ message: 'ok' });
    expect((await t.http().get('/segment/user/1003').expect(200)).body).toEqual({ segments: [] });
    expectProblem(await t.http().delete('/segment').send({ slug: 'TO_DELETE' }), 404, '/problems/not-found');
    expectProblem(await t.http().delete('/segment').send({}), 400, '/problems/validation-error');
  });

  it('GET /segment/user/{id} answers an empty list for an unknown user and 400 for a bad id', async () => {
    expect((await t.http().get('/segment/user/424242').expect(200)).body).toEqual({ segments: [] });
    expectProblem(await t.http().get('/segment/user/abc'), 400, '/problems/validation-error');
  });
});
