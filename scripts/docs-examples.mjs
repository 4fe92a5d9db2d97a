#!/usr/bin/env node
/**
 * `npm run docs:examples`: regenerates the answers of the examples in the docs against the built
 * API (`dist/`, `npm run build` first). It starts dist/apps/api/src/main.js with the job
 * processors in the process, on a free port, a fresh database and a fresh Redis key prefix; runs
 * every ```sh example block of FILES, in order, in one bash (so a block can use what an earlier
 * one set); and writes what the block printed into the ```<lang> response block that follows
 * it, with the values that change from run to run replaced by placeholders (see normalize).
 * `<!-- example: until <text> -->` before a block runs it again (up to 30 s) until its output
 * contains <text>, for work the worker finishes in the background.
 *
 * `npm run docs:check` runs it and fails when the committed docs differ (git diff).
 * Needs DATABASE_URL (a server; the database is created and dropped) and REDIS_URL, curl, jq.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** In this order, on one database: README's example uses names of its own, so it runs last. */
const FILES = ['docs/api-guide.md', 'docs/authentication.md', 'README.md'];
const MAIN = join(ROOT, 'dist/apps/api/src/main.js');
/** The token the docs export as $TOKEN (the compose stack's bootstrap token). */
const TOKEN = 'compose-local-bootstrap-token-change-me';
const UNTIL_TIMEOUT_MS = 30_000;

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const database = `seg_docs_${suffix}`;
const redisPrefix = `docs-examples:${suffix}`;

/** Volatile values → stable placeholders, so that two runs write the same bytes. */
export function normalize(text) {
  return (
    text
      // instants (ISO 8601, and the original service's CSV format), HTTP dates
      .replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\b/g, 'YYYY-MM-DDThh:mm:ss.sssZ')
      .replace(/\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b/g, 'YYYY-MM-DD hh:mm:ss')
      .replace(/^(date): .*$/gim, '$1: <date>')
      .replace(/segment-history-\d{4}-\d{2}-/g, 'segment-history-YYYY-MM-')
      // ids, secrets, signed report links, change-feed cursors
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
      .replace(/\bseg_[A-Za-z0-9_-]{43}\b/g, 'seg_<secret>')
      .replace(/(\/reports\/segment-history\/)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '$1<signed-token>')
      .replace(/"(cursor|next_cursor)":"W[A-Za-z0-9_-]*"/g, (match, key) => (isFeedCursor(match) ? `"${key}":"<cursor>"` : match))
      .replace(/^id: .+$/gm, 'id: <cursor>')
      // the port this run used, should the service print it
      .replace(/\b(?:127\.0\.0\.1|localhost):\d{4,5}\b/g, 'localhost:3000')
  );
}

/** Change-feed cursors hold numbers ([batch, id]); list cursors hold a slug or an id the examples fix. */
function isFeedCursor(match) {
  const value = match.slice(match.indexOf(':') + 2, -1);
  const decoded = Buffer.from(value, 'base64url').toString('utf8');
  return /^\[\d+,\d+\]$/.test(decoded);
}

/** Each line that is a JSON object or array, laid out by `layout`; other lines stay as they are. */
function formatJson(text) {
  return text
    .split('\n')
    .map((line) => {
      if (!/^[[{]/.test(line)) return line;
      try {
        return layout(JSON.parse(line), '');
      } catch {
        return line;
      }
    })
    .join('\n');
}

/** JSON indented by two spaces, with every object or array that fits in 100 columns (after `lead`) on one line. */
function layout(value, indent, lead = indent.length) {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== 'object' || lead + flat.length <= 100) return flat;
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((item) => `${inner}${layout(item, inner)}`)
    : Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${layout(item, inner, inner.length + key.length + 4)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${indent}${close}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(port, api, output) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) throw new Error(`the API exited with ${api.exitCode}:\n${output.join('')}`);
    try {
      if ((await globalThis.fetch(`http://127.0.0.1:${port}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`the API never became ready:\n${output.join('')}`);
}

/** One bash for all the blocks; `run` feeds it a block and resolves with what it printed. */
function startShell(cwd, port) {
  const shell = spawn('bash', ['--noprofile', '--norc'], {
    cwd,
    env: { ...process.env, TOKEN, DOCS_PORT: String(port), LC_ALL: 'C.UTF-8', TZ: 'UTC' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let buffer = '';
  let waiting;
  const take = () => {
    if (!waiting) return;
    const end = buffer.indexOf(waiting.sentinel);
    if (end === -1) return;
    const output = buffer.slice(0, end);
    buffer = buffer.slice(end + waiting.sentinel.length);
    const { resolve } = waiting;
    waiting = undefined;
    resolve(output);
  };
  shell.stdout.on('data', (chunk) => {
    buffer += chunk;
    take();
  });
  shell.stderr.on('data', (chunk) => {
    buffer += chunk;
    take();
  });
  // `localhost:3000` in the docs is this run's port; each curl's output ends with a newline.
  shell.stdin.write(
    [
      'set -o pipefail',
      'curl() {',
      '  local args=() out',
      '  for arg in "$@"; do args+=("${arg//localhost:3000/127.0.0.1:$DOCS_PORT}"); done',
      '  out=$(command curl "${args[@]}"; printf x)',
      '  out=${out%x}',
      '  printf \'%s\' "$out"',
      "  [[ -z $out || $out == *$'\\n' ]] || echo",
      '}',
      '',
    ].join('\n'),
  );
  let count = 0;
  return {
    run(block) {
      const sentinel = `__docs_example_${++count}_done__`;
      return new Promise((resolve) => {
        waiting = { sentinel, resolve };
        shell.stdin.write(`{\n${block}\n} 2>&1\nprintf '%s' '${sentinel}'\n`);
      });
    },
    close() {
      shell.stdin.end();
      shell.kill();
    },
  };
}

/** The example blocks of a markdown text: where each answer goes, and its condition. */
function examples(lines) {
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh example\s*$/.test(lines[i])) continue;
    const close = lines.indexOf('```', i + 1);
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const until = /^<!-- example: until (.+) -->$/.exec(lines[before] ?? '')?.[1];
    let open = close + 1;
    while (open < lines.length && lines[open].trim() === '') open++;
    const lang = /^```(\w+) response\s*$/.exec(lines[open] ?? '')?.[1];
    if (close === -1 || !lang)
      throw new Error(`line ${i + 1}: an example needs a closing fence and a \`\`\`<lang> response block after it`);
    const end = lines.indexOf('```', open + 1);
    found.push({ command: lines.slice(i + 1, close).join('\n'), until, lang, open, end, line: i + 1 });
  }
  return found;
}

async function regenerate(file, shell) {
  const path = join(ROOT, file);
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks = examples(lines);
  const answers = [];
  for (const block of blocks) {
    const deadline = Date.now() + UNTIL_TIMEOUT_MS;
    let output = await shell.run(block.command);
    while (block.until && !output.includes(block.until)) {
      if (Date.now() > deadline)
        throw new Error(`${file}:${block.line}: no "${block.until}" within ${UNTIL_TIMEOUT_MS} ms; last output:\n${output}`);
      await sleep(200);
      output = await shell.run(block.command);
    }
    if (output.trim() === '') throw new Error(`${file}:${block.line}: the example printed nothing`);
    let answer = normalize(output.replace(/\r\n/g, '\n')).replace(/\n+$/, '');
    if (block.lang === 'json') answer = formatJson(answer);
    answers.push(answer);
  }
  // Replace from the last block up, so earlier line numbers stay valid.
  for (let k = blocks.length - 1; k >= 0; k--) {
    lines.splice(blocks[k].open + 1, blocks[k].end - blocks[k].open - 1, ...answers[k].split('\n'));
  }
  writeFileSync(path, lines.join('\n'));
  return blocks.length;
}

async function main() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm run build first`);
  const started = Date.now();
  const [port, workerPort] = [await freePort(), await freePort()];
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const scratch = mkdtempSync(join(tmpdir(), 'docs-examples-'));
  const output = [];
  let api;
  let shell;
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    api = spawn(process.execPath, ['--enable-source-maps', MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: `${serverUrl.replace(/\/[^/]*$/, '')}/${database}`,
        REDIS_URL: redisUrl,
        REDIS_PREFIX: redisPrefix,
        HOST: '127.0.0.1',
        PORT: String(port),
        WORKER_PORT: String(workerPort),
        RUN_WORKER_IN_API: 'true',
        AUTH_BOOTSTRAP_TOKEN: TOKEN,
        REPORT_LINK_SECRET: 'docs-examples-report-link-secret-0123456789',
        PUBLIC_BASE_URL: 'http://localhost:3000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    api.stdout.on('data', (chunk) => output.push(String(chunk)));
    api.stderr.on('data', (chunk) => output.push(String(chunk)));
    await waitReady(port, api, output);
    shell = startShell(scratch, port);
    for (const file of FILES) {
      const count = await regenerate(file, shell);
      console.log(`${file}: ${count} examples`);
    }
    console.log(`docs examples regenerated against the built API in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    shell?.close();
    if (api && api.exitCode === null) {
      api.kill('SIGTERM');
      await new Promise((resolve) => api.once('exit', resolve));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
