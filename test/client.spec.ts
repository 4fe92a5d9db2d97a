import { createClient } from '@hey-api/openapi-ts';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import config from '../openapi-ts.config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const committed = join(root, 'libs/client/src/generated');

function files(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name);
        return [relative(dir, path), readFileSync(path, 'utf8')];
      }),
  );
}

describe('generated client', () => {
  it('is what `npm run client` generates from the committed openapi.json', async () => {
    // Inside the repository, so that formatting finds the same Prettier configuration as `npm run client`.
    const out = mkdtempSync(join(root, '.client-check-'));
    try {
      const options = await config;
      await createClient({
        ...options,
        input: join(root, 'openapi.json'),
        output: { ...options.output, path: out },
        logs: { level: 'silent' },
      });
      expect(files(out)).toEqual(files(committed));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('is a package versioned with the API (`npm run client` copies info.version of openapi.json)', () => {
    const json = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'));
    expect(json('libs/client/package.json').version).toBe(json('openapi.json').info.version);
  });

  it('has its API guide usage sample in libs/client/example.ts, which the type check compiles', () => {
    const sample = readFileSync(join(root, 'libs/client/example.ts'), 'utf8');
    expect(readFileSync(join(root, 'docs/api-guide.md'), 'utf8')).toContain(sample.trim());
  });
});
