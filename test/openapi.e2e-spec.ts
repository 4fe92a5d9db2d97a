import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOpenApiDocument, serializeOpenApiDocument } from '../apps/api/src/openapi.js';
import { createTestApp, type TestApp } from './support/app.js';

const committed = readFileSync(new URL('../openapi.json', import.meta.url), 'utf8');

describe('OpenAPI document', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('is committed exactly as the code generates it (run `npm run openapi` after changing the API)', async () => {
    expect(serializeOpenApiDocument(await generateOpenApiDocument())).toBe(committed);
  });

  it('is served at /swagger/json, with Swagger UI at /swagger', async () => {
    const served = await t.http().get('/swagger/json').expect(200);
    expect(served.body).toEqual(JSON.parse(committed));
    const ui = await t.http().get('/swagger').redirects(1).expect(200);
    expect(ui.text).toContain('swagger-ui');
  });

  it('gives every operation a unique operationId, a summary and problem responses; compatibility routes are deprecated', () => {
    const document = JSON.parse(committed);
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, Record<string, unknown>>).map(([method, operation]) => ({ path, method, operation })),
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(operations.length);
    for (const { path, operation } of operations) {
      expect(operation.summary, path).toEqual(expect.any(String));
      const responses = operation.responses as Record<string, { content?: Record<string, unknown> }>;
      expect(responses['400']?.content?.['application/problem+json'], path).toBeDefined();
      expect(responses['500']?.content?.['application/problem+json'], path).toBeDefined();
      const compat = (operation.tags as string[]).includes('compatibility');
      expect(operation.deprecated === true, path).toBe(compat);
    }
    expect(JSON.stringify(document)).not.toContain('/metrics');
  });

  it('is OpenAPI 3.1, so that a nullable reference is null to strict tools too, with no 3.0 `nullable` left', () => {
    expect(JSON.parse(committed).openapi).toBe('3.1.0');
    expect(committed).not.toContain('"nullable"');
  });
});
