import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const libs = fileURLToPath(new URL('./libs/', import.meta.url));

export default defineConfig({
  resolve: {
    // The same `#libs/<name>` imports as package.json, pointed at the sources instead of dist.
    alias: [{ find: /^#libs\/([a-z-]+)$/, replacement: `${libs}$1/src/index.ts` }],
  },
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
