import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The structure rules of `npm run lint` fire: files that break them, written for the run into
 * the libs they would belong to, are reported under each rule's name; the real tree breaks none
 * and the cruiser sees the imports between libs (`#libs/*`), not unconnected boxes. No services.
 */
const root = fileURLToPath(new URL('..', import.meta.url));

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(paths: string[]): { violations: Violation[]; modules: { source: string; dependencies: { resolved: string }[] }[] } {
  let output: string;
  try {
    output = execFileSync('npx', ['depcruise', ...paths, '--output-type', 'json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (error) {
    // depcruise exits non-zero when it finds violations; its report is on stdout all the same.
    output = (error as { stdout: string }).stdout;
  }
  const result = JSON.parse(output) as { summary: { violations: Violation[] }; modules: never[] };
  return { violations: result.summary.violations, modules: result.modules };
}

describe('dependency rules (dependency-cruiser)', () => {
  let dir: string;
  const probe = (name: string) => relative(root, `${dir}/${name}`);

  beforeAll(() => {
    // Inside libs/segments, as a file of that lib would be.
    dir = mkdtempSync(`${root}libs/segments/src/architecture-probe-`);
    writeFileSync(`${dir}/http.ts`, "export { ProblemFilter } from '#libs/http';\n");
    writeFileSync(`${dir}/app.ts`, "export { ApiModule } from '../../../../apps/api/src/api.module.js';\n");
    writeFileSync(`${dir}/repository.ts`, "export { MembershipsRepository } from '../../../memberships/src/memberships.repository.js';\n");
    writeFileSync(`${dir}/cycle-a.ts`, "import { b } from './cycle-b.js';\nexport const a = () => b;\n");
    writeFileSync(`${dir}/cycle-b.ts`, "import { a } from './cycle-a.js';\nexport const b = () => a;\n");
    writeFileSync(`${dir}/orphan.ts`, 'export const unused = 1;\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports each broken rule under its name', () => {
    const { violations } = cruise([dir]);
    const found = (rule: string, from: string) => violations.some((v) => v.rule.name === rule && v.from === probe(from));
    expect(found('libs-not-to-http', 'http.ts')).toBe(true);
    expect(found('libs-not-to-apps', 'app.ts')).toBe(true);
    expect(found('repository-stays-in-its-lib', 'repository.ts')).toBe(true);
    expect(found('libs-through-their-index', 'repository.ts')).toBe(true);
    expect(found('no-circular', 'cycle-a.ts')).toBe(true);
    expect(found('no-orphans', 'orphan.ts')).toBe(true);
  });

  it('finds no violation in apps/ and libs/, and sees the imports between libs through #libs/*', () => {
    const { violations, modules } = cruise(['apps', 'libs']);
    expect(violations.filter((v) => !v.from.includes('architecture-probe-'))).toEqual([]);
    const libOf = (path: string) => /^(apps|libs)\/[^/]+/.exec(path)?.[0];
    const edges = new Set(
      modules.flatMap((module) =>
        module.dependencies
          .filter((dependency) => libOf(dependency.resolved) && libOf(dependency.resolved) !== libOf(module.source))
          .map((dependency) => `${libOf(module.source)} -> ${libOf(dependency.resolved)}`),
      ),
    );
    expect(edges).toContain('libs/memberships -> libs/segments');
    expect(edges).toContain('apps/api -> libs/http');
    expect(edges.size).toBeGreaterThan(40);
  });
});

describe('SQL only in repositories (ESLint)', () => {
  const eslint = new ESLint({ cwd: root });
  const sqlErrors = async (filePath: string, code: string) =>
    (await eslint.lintText(code, { filePath: `${root}${filePath}` }))[0]!.messages.filter((m) => m.ruleId === 'no-restricted-syntax');

  it('refuses a statement in a service, a controller or a template', async () => {
    expect(await sqlErrors('libs/segments/src/probe.service.ts', "export const q = 'SELECT id FROM segments';\n")).toHaveLength(1);
    expect(
      await sqlErrors('apps/api/src/probe.controller.ts', 'export const q = (t: string) => `DELETE FROM ${t} WHERE id = 1`;\n'),
    ).toHaveLength(1);
    expect(await sqlErrors('libs/users/src/probe.ts', "export const q = 'UPDATE users SET id = 1';\n")).toHaveLength(1);
  });

  it('lets repositories, *.sql.ts files and libs/database hold SQL, and prose mention a method', async () => {
    const statement = "export const q = 'SELECT id FROM segments';\n";
    expect(await sqlErrors('libs/segments/src/probe.repository.ts', statement)).toEqual([]);
    expect(await sqlErrors('libs/segments/src/probe.sql.ts', statement)).toEqual([]);
    expect(await sqlErrors('libs/database/src/probe.ts', statement)).toEqual([]);
    expect(await sqlErrors('apps/api/src/probe.ts', "export const d = 'Same as DELETE /segments/{slug}.';\n")).toEqual([]);
  });
});
