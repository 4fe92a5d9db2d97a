import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `#libs/<name>` resolves to the TypeScript sources, as package.json's `source` condition
 * says (the type checker follows it through `customConditions`). Vite does not apply custom
 * conditions to subpath imports, so the same mapping is an alias here, read from package.json.
 */
const imports = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).imports as Record<string, { source: string }>;
const alias = Object.entries(imports).map(([pattern, targets]) => ({
  find: new RegExp(`^${pattern.replace('*', '([a-z-]+)')}$`),
  replacement: fileURLToPath(new URL(targets.source.replace('*', '$1'), import.meta.url)),
}));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
