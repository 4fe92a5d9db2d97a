import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The same server as `url`, with another database. */
export function serverUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export { setTimeout as sleep } from 'node:timers/promises';

/** The installed PostgreSQL server binaries (Debian puts them under /usr/lib/postgresql/<version>/bin), or PG_BIN. */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const version = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => existsSync(join(root, entry, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  if (!version)
    throw new Error('No PostgreSQL server binaries found: install postgresql, or set PG_BIN to the folder holding initdb and pg_ctl');
  return join(root, version, 'bin');
}

/**
 * A PostgreSQL server of a suite's own, in a temporary directory on a free port, that the
 * suite may stop, restart and kill; `settings` are server settings (`-c name=value`).
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
    private readonly settings: Record<string, string>,
  ) {}

  static async start(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
    const bin = postgresBin();
    const dir = mkdtempSync(join(tmpdir(), 'seg-pg-'));
    const server = new PrivatePostgres(await freePort(), dir, bin, settings);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout), Number(group));
    }
    await server.pgCommand('initdb', ['-D', server.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await server.start();
    return server;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const settings = Object.entries({ listen_addresses: '127.0.0.1', max_connections: '200', fsync: 'off', ...this.settings });
    const options = [`-p ${this.port} -k ${this.dir}`, ...settings.map(([name, value]) => `-c ${name}=${value}`)].join(' ');
    await this.pgCommand('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start']);
  }

  /** `fast` rolls back open transactions and closes connections; `immediate` is a crash (recovery at the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pgCommand('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '30', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pgCommand(command: string, args: string[]): Promise<void> {
    const binary = join(this.bin, command);
    if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', binary, ...args], { cwd: tmpdir() });
    else await run(binary, args);
  }
}

/** A Redis server of the suite's own (nothing kept on disk), that the suite may stop and start again on the same port. */
export class PrivateRedis {
  private process?: ChildProcess;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Ready to accept connections')) resolve();
      });
    });
    child.removeAllListeners('exit');
  }

  /** Kills the server: everything it held is lost, as with a Redis without persistence. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
