import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppConfig } from '#libs/config';

/**
 * The docs stay true: every lib and app is a project of nest-cli.json, every relative link of
 * the docs resolves (file and heading), every code symbol the rule table names exists, README
 * stays short, and the configuration page names every setting. No database needed.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

function walk(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : walk(path, keep);
    return keep(path) ? [path] : [];
  });
}

const DOCS = ['README.md', 'bench/README.md', 'libs/client/README.md', ...walk('docs', (path) => path.endsWith('.md'))];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*~]/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const seen = counts.get(base) ?? 0;
    counts.set(base, seen + 1);
    slugs.add(seen === 0 ? base : `${base}-${seen}`);
  }
  return slugs;
}

/** Relative link and image targets of a markdown text, outside code (fences and inline code). */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^\s*```[\s\S]*?^\s*```\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [...prose.matchAll(/!?\[(?:[^\]]|\][^(])*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('//'));
}

/** Why `target`, linked from `from`, does not resolve; undefined when it does. */
export function brokenLink(from: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? from : join(dirname(from), decodeURIComponent(path));
  if (relative(ROOT, join(ROOT, file)).startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(join(ROOT, file))) return `${target}: no file ${file}`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(join(ROOT, file)).isDirectory() || !file.endsWith('.md')) return `${target}: an anchor into ${file}, which has no headings`;
  return headingSlugs(read(file)).has(decodeURIComponent(anchor).toLowerCase()) ? undefined : `${target}: no heading #${anchor} in ${file}`;
}

const SOURCES = [...walk('libs', (path) => path.endsWith('.ts')), ...walk('apps', (path) => path.endsWith('.ts'))]
  .filter((path) => !/\.(spec|e2e-spec)\.ts$/.test(path) && !path.includes('/generated/'))
  .map((path) => ({ path, text: read(path) }));

const escape = (name: string) => name.replace(/[$]/g, '\\$');

/** The body of `class Name` in `text` (up to the closing brace at the start of a line), if any. */
function classBody(text: string, name: string): string | undefined {
  const start = new RegExp(`^(?:export\\s+)?(?:abstract\\s+)?class\\s+${escape(name)}\\b[^{]*\\{`, 'm').exec(text);
  if (!start) return undefined;
  const from = start.index + start[0].length;
  const end = text.indexOf('\n}', from);
  return text.slice(from, end === -1 ? undefined : end);
}

/**
 * Whether the code symbol exists in libs/ or apps/: `Class.member` (a method, property or accessor
 * declared in the class's body), `name` (a top-level function, class, constant, type or enum),
 * `sql_function()` (a function a migration creates), `@Decorator`.
 */
export function symbolExists(symbol: string): boolean {
  const sql = /^([a-z_][a-z0-9_]*)\(\)$/.exec(symbol);
  if (sql) return SOURCES.some(({ text }) => new RegExp(`CREATE\\s+(?:OR\\s+REPLACE\\s+)?FUNCTION\\s+${sql[1]}\\s*\\(`, 'i').test(text));
  const member = /^([A-Z][A-Za-z0-9_]*)\.([A-Za-z_$][A-Za-z0-9_$]*)$/.exec(symbol);
  if (member) {
    const [, owner, name] = member as unknown as [string, string, string];
    const declaration = new RegExp(
      `^\\s+(?:(?:public|private|protected|readonly|static|async|override|abstract|get|set)\\s+)*${escape(name)}\\s*[(<:=?!]`,
      'm',
    );
    return SOURCES.some(({ text }) => {
      const body = classBody(text, owner);
      return body !== undefined && declaration.test(body);
    });
  }
  const plain = /^@?([A-Za-z_$][A-Za-z0-9_$]*)$/.exec(symbol);
  if (!plain) return false;
  const declaration = new RegExp(
    `^(?:export\\s+)?(?:declare\\s+)?(?:async\\s+)?(?:function\\*?|const|let|class|abstract\\s+class|interface|type|enum)\\s+${escape(plain[1]!)}\\b`,
    'm',
  );
  return SOURCES.some(({ text }) => declaration.test(text));
}

/** The code symbols of the rule table in docs/architecture.md: the backticked names of its "enforced by" column. */
function ruleTableSymbols(markdown: string): string[] {
  const section = markdown.slice(markdown.indexOf('## Where each rule lives'));
  const rows = section.split('\n').filter((line) => line.startsWith('|'));
  const header = rows[0]?.split('|').map((cell) => cell.trim()) ?? [];
  const column = header.indexOf('enforced by');
  expect(column, 'the rule table has an "enforced by" column').toBeGreaterThan(0);
  return rows.slice(2).flatMap((row) => {
    const cell = row.split('|')[column] ?? '';
    const symbols = [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
    expect(symbols.length, `a rule without a code symbol: ${row}`).toBeGreaterThan(0);
    return symbols;
  });
}

describe('docs', () => {
  it('has every directory of libs/ and apps/ as a project of nest-cli.json, and no project without one', () => {
    const projects = JSON.parse(read('nest-cli.json')).projects as Record<string, { type: string; root: string; sourceRoot: string }>;
    const directories = ['libs', 'apps'].flatMap((parent) =>
      readdirSync(join(ROOT, parent), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => ({ name: entry.name, root: `${parent}/${entry.name}`, type: parent === 'apps' ? 'application' : 'library' })),
    );
    expect(directories.length).toBeGreaterThan(10);
    for (const { name, root, type } of directories) {
      expect(projects[name], `nest-cli.json lacks the project ${name}`).toMatchObject({ type, root, sourceRoot: `${root}/src` });
    }
    expect(Object.keys(projects).sort()).toEqual(directories.map(({ name }) => name).sort());
  });

  it('resolves every relative link and image of README.md, docs/, bench/README.md and libs/client/README.md', () => {
    expect(DOCS.length).toBeGreaterThanOrEqual(15);
    const links = DOCS.flatMap((file) => relativeLinks(read(file)).map((target) => ({ file, target })));
    expect(links.length).toBeGreaterThan(50);
    const broken = links.flatMap(({ file, target }) => {
      const why = brokenLink(file, target);
      return why === undefined ? [] : [`${file}: ${why}`];
    });
    expect(broken).toEqual([]);
  });

  it('checks links the way GitHub resolves them (the checker refuses what does not exist)', () => {
    expect(headingSlugs('# How it scales\n## Health, logs, metrics\n## `npm run` and C++\n## Same\n## Same')).toEqual(
      new Set(['how-it-scales', 'health-logs-metrics', 'npm-run-and-c', 'same', 'same-1']),
    );
    expect(relativeLinks('[a](docs/x.md) ![i](docs/i.png) [w](https://x.org) `[c](no.md)`\n```\n[f](no.md)\n```')).toEqual([
      'docs/x.md',
      'docs/i.png',
    ]);
    expect(brokenLink('README.md', 'docs/api-guide.md#examples')).toBeUndefined();
    expect(brokenLink('docs/architecture.md', '../libs/segments/src/bucket.ts')).toBeUndefined();
    expect(brokenLink('README.md', 'docs/api-guide.md#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('README.md', 'docs/no-such-file.md')).toMatch(/no file/);
    expect(brokenLink('docs/api-guide.md', 'docs/api-guide.md')).toMatch(/no file/); // relative to the linking file
    expect(brokenLink('README.md', '#no-such-section')).toMatch(/no heading/);
  });

  it('names in the rule table only code symbols that exist', () => {
    const symbols = ruleTableSymbols(read('docs/architecture.md'));
    expect(symbols.length).toBeGreaterThanOrEqual(20);
    expect(symbols.filter((symbol) => !symbolExists(symbol))).toEqual([]);
  });

  it('finds a symbol only where it is declared (the checker refuses made-up names)', () => {
    for (const symbol of [
      'UsersService.nextId',
      'HistorySubscriber.record',
      'segmentBucket',
      'SEGMENT_LOCKS',
      'segment_bucket()',
      'RequireScope',
      'WriteBatcher',
    ]) {
      expect(symbolExists(symbol), symbol).toBe(true);
    }
    // UsersService.allocate was in the old README's table; FEED_ORDER_LOCK was removed with the relay.
    for (const symbol of [
      'UsersService.allocate',
      'FEED_ORDER_LOCK',
      'NoSuchService.run',
      'UsersService.lockRows',
      'segment_bucket_v2()',
      'Users Service',
    ]) {
      expect(symbolExists(symbol), symbol).toBe(false);
    }
  });

  it('keeps README.md at 250 lines or fewer', () => {
    const lines = read('README.md').split('\n').length;
    expect(lines).toBeGreaterThan(20);
    expect(lines).toBeLessThanOrEqual(250);
  });

  it('documents every setting of AppConfig in docs/configuration.md', () => {
    const page = read('docs/configuration.md');
    const settings = Object.keys(new AppConfig());
    expect(settings.length).toBeGreaterThan(20);
    expect(settings.filter((name) => !page.includes(`\`${name}\``))).toEqual([]);
  });

  it('gives every example of the docs a response block for npm run docs:examples to fill', () => {
    for (const file of ['docs/api-guide.md', 'docs/authentication.md', 'README.md']) {
      const text = read(file);
      const examples = text.match(/^```sh example$/gm) ?? [];
      const answered = text.match(/^```sh example\n[\s\S]*?^```\n+```\w+ response\n(?!```)/gm) ?? [];
      expect(examples.length, file).toBeGreaterThan(0);
      expect(answered.length, `${file}: examples with a non-empty response block`).toBe(examples.length);
    }
  });
});
