import { execFileSync } from 'node:child_process';

/** Runs hand-written SQL through psql (the baselines) and returns its wall time in seconds. */
export function timePsql(databaseUrl: string, sql: string, output: 'discard' | 'keep' = 'discard'): number {
  const started = process.hrtime.bigint();
  execFileSync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], {
    stdio: ['ignore', output === 'discard' ? 'ignore' : 'inherit', 'inherit'],
    maxBuffer: 1024 * 1024 * 1024,
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Seconds since `started` (a process.hrtime.bigint() reading). */
export const since = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;
