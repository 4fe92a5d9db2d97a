import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('creates a segment', async () => {
    const res = await t.http().post('/segments').send({ slug: 'A' });
    expect(res.status).toBe(201);
  });
});
