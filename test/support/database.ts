import { randomBytes } from 'node:crypto';

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** The same server as `url`, with another database. */
export function serverUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
