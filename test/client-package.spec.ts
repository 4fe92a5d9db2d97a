import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, type TestApp } from './support/app.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
/** npm as a user runs it: none of the npm_* variables of the `npm test` that runs this suite (its prefix, its scripts). */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

/** The consumer another team writes: strict TypeScript against the installed package, talking to the service at `baseUrl`. */
const consumer = (baseUrl: string) => `
import { changeUserSegments, createSegment, createSegmentationClient, getSegment, getUserSegments, type Problem, type Rollout } from '@segmentation/client';

const client = createSegmentationClient(${JSON.stringify(baseUrl)}, ${JSON.stringify(BOOTSTRAP_TOKEN)});
const created = await createSegment({ client, body: { slug: 'PACKAGED', description: null }, throwOnError: true });
const changed = await changeUserSegments({ client, path: { user_id: 4242 }, body: { add: ['PACKAGED'] }, throwOnError: true });
const read = await getUserSegments({ client, path: { user_id: 4242 }, throwOnError: true });
const details = await getSegment({ client, path: { slug: 'PACKAGED' }, throwOnError: true });
const rollout: Rollout | null = details.data.rollout;
const missing = await getSegment({ client, path: { slug: 'NOPE' } });
const problem: Problem | undefined = missing.error;
console.log(JSON.stringify({
  created: created.data.slug,
  added: changed.data.added,
  segments: read.data.segments.map((segment) => segment.slug),
  members: details.data.member_count,
  rollout,
  problem: problem?.type,
}));
`;

/**
 * The client as other teams get it: `npm pack` of libs/client, installed from the tarball alone
 * into a project outside the monorepo, a consumer type-checked with `strict` (and the package's
 * declarations with it) by the monorepo's own TypeScript, then run against the service.
 */
describe('client package', () => {
  let t: TestApp;
  let scratch: string;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    scratch = mkdtempSync(join(tmpdir(), 'segmentation-client-'));
  });
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await t?.close();
  });

  it('packs, installs offline outside the monorepo, type-checks strictly in a consumer and talks to the service', async () => {
    await run('npm', ['pack', '--pack-destination', scratch], { cwd: join(root, 'libs/client'), env: npmEnv });
    const tarball = join(
      scratch,
      readdirSync(scratch).find((name) => name.endsWith('.tgz'))!,
    );

    const project = join(scratch, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env: npmEnv });
    const installed = join(project, 'node_modules/@segmentation/client');
    const files = readdirSync(installed, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    expect(files.map((entry) => entry.name)).toEqual(expect.arrayContaining(['package.json', 'index.js', 'index.d.ts']));
    for (const entry of files) expect(readFileSync(join(entry.parentPath, entry.name), 'utf8'), entry.name).not.toContain('#libs/');

    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    writeFileSync(join(project, 'consumer.ts'), consumer(`http://127.0.0.1:${port}`));
    const compilerOptions = { strict: true, target: 'es2022', module: 'nodenext', lib: ['es2022', 'dom'], types: [], skipLibCheck: false };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
    await run(join(root, 'node_modules/.bin/tsc'), ['-p', project]).catch((error: { stdout: string }) => {
      throw new Error(`The consumer does not type-check:\n${error.stdout}`);
    });

    const { stdout } = await run(process.execPath, [join(project, 'consumer.js')]);
    expect(JSON.parse(stdout)).toEqual({
      created: 'PACKAGED',
      added: ['PACKAGED'],
      segments: ['PACKAGED'],
      members: 1,
      rollout: null,
      problem: '/problems/not-found',
    });
  }, 60_000);
});
