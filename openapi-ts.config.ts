import { defineConfig } from '@hey-api/openapi-ts';

/** `npm run client`: the typed client of libs/client, generated from the committed openapi.json. */
export default defineConfig({
  input: './openapi.json',
  output: { path: './libs/client/src/generated', importFileExtension: '.js' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', { name: '@hey-api/sdk', operationId: true }],
});
