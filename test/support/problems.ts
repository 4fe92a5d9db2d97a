import type { Response } from 'supertest';
import { expect } from 'vitest';

/** Asserts an RFC 9457 problem+json response of the given status and type. */
export function expectProblem(res: Response, status: number, type: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type, status, title: expect.any(String), detail: expect.any(String), request_id: expect.any(String) });
  expect(res.headers['x-request-id']).toBe(res.body.request_id);
}
