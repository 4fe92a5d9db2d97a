import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The Node options the image runs the service with (the Dockerfile's `NODE_OPTIONS`), so the bench measures what is deployed. */
export const IMAGE_NODE_OPTIONS = /^ENV .*\bNODE_OPTIONS=(\S+)/m.exec(readFileSync(`${root}/Dockerfile`, 'utf8'))?.[1] ?? '';

export interface Service {
  process: ChildProcess;
  url: string;
  stop: () => Promise<void>;
}

/** The admin token the bench's processes accept; the bench uses it only to create the token it measures with. */
const BOOTSTRAP_TOKEN = 'bench-bootstrap-token-0123456789abcdef';

/**
 * A named API token with scope `admin`, created through the API: authentication is on for every
 * measured request, verified the way callers' tokens are (not the bootstrap shortcut).
 */
export async function createBenchToken(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BOOTSTRAP_TOKEN}` },
    body: JSON.stringify({ name: 'bench', scopes: ['admin'] }),
  });
  if (response.status !== 201) throw new Error(`POST /tokens answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Environment of the service processes the bench starts. */
export function serviceEnv(databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    NODE_OPTIONS: IMAGE_NODE_OPTIONS,
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `bench:${process.pid}`,
    REPORT_LINK_SECRET: 'bench-report-link-secret-0123456789abcdef',
    LOG_LEVEL: 'warn',
    RUN_MIGRATIONS: 'false',
    AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
    PUBLIC_BASE_URL: 'http://127.0.0.1:3930',
    ...extra,
  };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    try {
      const response = await fetch(`${url}/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      // A process ended by a signal has signalCode set and exitCode null.
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** Starts a built service (dist/) as its own process listening on `port` (through `portVariable`). */
async function startService(script: string, portVariable: 'PORT' | 'WORKER_PORT', env: NodeJS.ProcessEnv, port: number): Promise<Service> {
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { ...env, [portVariable]: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child);
  return { process: child, url, stop: stopper(child) };
}

export const startApi = (env: NodeJS.ProcessEnv, port: number) => startService('dist/apps/api/src/main.js', 'PORT', env, port);
export const startWorker = (env: NodeJS.ProcessEnv, port: number) => startService('dist/apps/worker/src/main.js', 'WORKER_PORT', env, port);

/** Starts the bare Node http baseline server. */
export async function startBare(port: number): Promise<Service> {
  const child = fork(fileURLToPath(new URL('./bare-server.js', import.meta.url)), [String(port)], { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { process: child, url: `http://127.0.0.1:${port}`, stop: stopper(child) };
}

/** Resident memory of a process in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}
