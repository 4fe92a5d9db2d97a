import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

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

/**
 * Two tiers: `unit` (specs beside the code, pure rules, no PostgreSQL, Redis or Docker;
 * `npm run test:unit`) and `integration` (test/: services on a migrated database, the HTTP
 * contract, jobs, the browser). `npm test` runs both; the integration suites that use the
 * database again on a Citus cluster (`citus`) and the fault suite are projects of their own.
 */
export default defineConfig({
  resolve: { alias },
  test: {
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        // Not isolated: unit specs hold no module state of their own (mocks are built per test), and
        // loading Nest, TypeORM and Bull once per worker instead of once per file is most of the tier's time (21 s → 4 s).
        test: { name: 'unit', include: ['libs/*/src/**/*.spec.ts', 'apps/*/src/**/*.spec.ts'], testTimeout: 5_000, isolate: false },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
          exclude: [...configDefaults.exclude, 'test/citus.spec.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        // `npm run test:citus`: the suites that use the database, on a local Citus cluster (coordinator + 2 workers).
        test: {
          name: 'citus',
          include: [
            'test/services/**/*.spec.ts',
            'test/citus.spec.ts',
            'test/schema.spec.ts',
            ...[
              'auth',
              'campaigns',
              'changes',
              'compat',
              'contract',
              'history',
              'jobs',
              'memberships',
              'operations',
              'reports',
              'segments',
              'users',
            ].map((suite) => `test/${suite}.e2e-spec.ts`),
          ],
          globalSetup: ['test/support/citus-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        // `npm run test:faults`: processes of the built service under injected faults (a few minutes; CI runs it).
        test: { name: 'faults', include: ['test/faults/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000, fileParallelism: false },
      },
    ],
  },
});
