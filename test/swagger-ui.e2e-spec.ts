import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, type TestApp } from './support/app.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';

/** Swagger UI in a real (headless) browser: the page renders, Authorize takes a token, and "Try it out" works. */
describe('Swagger UI', () => {
  let t: TestApp;
  let browser: TestBrowser;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    await t.http().post('/segments').send({ slug: 'AVITO_VOICE_MESSAGES' }).expect(201);
    await t
      .http()
      .patch('/users/1000/segments')
      .send({ add: ['AVITO_VOICE_MESSAGES'] })
      .expect(200);
    await t.app.listen(0, '0.0.0.0');
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    browser = await launchBrowser([port]);
    base = browser.urlOf(port);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('renders every operation, authorizes with a token and runs "Try it out" on GET /users/{user_id}/segments', async () => {
    const page = await browser.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${base}/swagger`);
    await page.locator('.opblock').first().waitFor();
    const rendered = await page.locator('.opblock').count();
    const documented = (await t.http().get('/swagger/json').expect(200)).body;
    const operations = Object.values(documented.paths as Record<string, object>).reduce(
      (total: number, item) => total + Object.keys(item).length,
      0,
    );
    expect(rendered).toBe(operations);

    // Authorize once with a token, as a user of Swagger UI would, then call a protected operation.
    await page.locator('.auth-wrapper button.authorize').click();
    const modal = page.locator('.modal-ux');
    await modal.locator('input').first().fill(BOOTSTRAP_TOKEN);
    await modal.locator('button.modal-btn.authorize').click();
    await modal.locator('button.btn-done').click();

    const operation = page.locator('#operations-users-getUserSegments');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.locator('input[placeholder="user_id"]').fill('1000');
    await operation.getByRole('button', { name: 'Execute' }).click();
    const response = operation.locator('.live-responses-table tr.response');
    await response.waitFor();
    expect((await response.locator('.response-col_status').innerText()).trim()).toBe('200');
    const body = JSON.parse(await response.locator('.response-col_description pre.microlight').first().innerText());
    expect(body).toEqual({ user_id: 1000, segments: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: null, source: 'manual' }] });

    // SWAGGER_SCREENSHOT=docs/swagger-ui.png npm test -- swagger-ui refreshes the API guide's picture.
    if (process.env.SWAGGER_SCREENSHOT) {
      await operation.scrollIntoViewIfNeeded();
      await page.screenshot({ path: process.env.SWAGGER_SCREENSHOT });
    }
    await page.close();
  }, 60_000);
});
