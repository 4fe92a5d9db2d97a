import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './private-servers.js';

/** The Prism release that runs on Node 20 (5.16 needs Node 24). */
const PRISM = '@stoplight/prism-cli@5.14.2';

export interface PrismProxy {
  url: string;
  close: () => Promise<void>;
}

/**
 * Stoplight Prism as a validating proxy (`prism proxy openapi.json <upstream>`) in front of
 * `upstream`: a strict OpenAPI validator nobody here wrote. It forwards every request and
 * reports what a response violates in its `sl-violations` header (ContractRecorder reads it).
 * Installed by npx on first use (about 10 s); `npm run test:prism` and CI run it.
 */
export async function startPrismProxy(upstream: string): Promise<PrismProxy> {
  const port = await freePort();
  const document = fileURLToPath(new URL('../../openapi.json', import.meta.url));
  // A clean environment: Prism crashes at start with the service's variables exported.
  const child = spawn('npx', ['-y', '-p', PRISM, 'prism', 'proxy', document, upstream, '--port', String(port), '--host', '127.0.0.1'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let listening: () => void;
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('Prism is listening')) listening();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  await new Promise<void>((resolve, reject) => {
    listening = resolve;
    child.once('exit', (code) => reject(new Error(`Prism exited (${code}) before listening:\n${output.slice(-2000)}`)));
  });
  // Its log is not needed once it listens (violations come in a header), but is drained so a full pipe never stalls it.
  child.stdout.off('data', collect).resume();
  child.stderr.off('data', collect).resume();
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(-child.pid!, 'SIGTERM'); // npx and the Prism process it started
      await exited;
    },
  };
}
