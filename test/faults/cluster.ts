import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from '../support/private-servers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One API or worker process of the service, started from the build (dist/), with its log in a file. */
export class ServiceProcess {
  private child?: ChildProcess;

  constructor(
    readonly name: string,
    private readonly script: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start(extraEnv: NodeJS.ProcessEnv = {}): void {
    const log = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [this.script], { cwd: root, env: { ...this.env, ...extraEnv }, stdio: ['ignore', log, log] });
    closeSync(log);
  }

  /** kill -9: no shutdown hook runs, in-flight requests and jobs are cut off. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  async ready(timeoutMs = 1000): Promise<boolean> {
    try {
      return (await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) })).ok;
    } catch {
      return false;
    }
  }

  /** Sends `signal`; a process still running 15 s later is killed. */
  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill(signal);
    });
  }
}

export interface Cluster {
  apis: ServiceProcess[];
  workers: ServiceProcess[];
  all: ServiceProcess[];
  /** Milliseconds until every process answers /health/ready, or throws after `timeoutMs`. */
  untilAllReady: (timeoutMs: number) => Promise<number>;
  stop: () => Promise<void>;
}

/** Two API and two worker processes on one PostgreSQL and one Redis; the first API applies the migrations. */
export async function startCluster(env: NodeJS.ProcessEnv, logDir: string): Promise<Cluster> {
  const make = async (name: string, kind: 'api' | 'worker') => {
    const port = await freePort();
    const script = kind === 'api' ? 'dist/apps/api/src/main.js' : 'dist/apps/worker/src/main.js';
    const portEnv = kind === 'api' ? { PORT: String(port) } : { WORKER_PORT: String(port) };
    return new ServiceProcess(name, script, port, { ...env, ...portEnv }, join(logDir, `${name}.log`));
  };
  const apis = [await make('api-1', 'api'), await make('api-2', 'api')];
  const workers = [await make('worker-1', 'worker'), await make('worker-2', 'worker')];
  const all = [...apis, ...workers];

  const untilAllReady = async (timeoutMs: number) => {
    const started = Date.now();
    for (;;) {
      const states = await Promise.all(all.map((service) => service.ready()));
      if (states.every(Boolean)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) {
        const down = all.filter((_, index) => !states[index]).map((service) => service.name);
        throw new Error(`not ready after ${timeoutMs} ms: ${down.join(', ')}`);
      }
      await sleep(100);
    }
  };

  apis[0]!.start({ RUN_MIGRATIONS: 'true' });
  const migrated = Date.now();
  while (!(await apis[0]!.ready())) {
    if (Date.now() - migrated > 60_000) throw new Error(`api-1 did not start:\n${apis[0]!.log().slice(-3000)}`);
    await sleep(200);
  }
  for (const service of all.slice(1)) service.start();
  await untilAllReady(60_000);
  return { apis, workers, all, untilAllReady, stop: async () => void (await Promise.all(all.map((service) => service.stop()))) };
}
