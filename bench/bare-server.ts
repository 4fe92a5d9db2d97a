import { createServer } from 'node:http';

/**
 * The runtime ceiling: a bare Node `http` server answering a fixed 200-byte JSON body to
 * every request, in a process of its own. Port from argv[2].
 */
const body = JSON.stringify({ user_id: 1000, segments: [{ slug: 'AVITO_VOICE_MESSAGES', expires_at: null, source: 'manual' }], pad: '' });
const padded = body.replace('"pad":""', `"pad":"${'x'.repeat(200 - body.length)}"`);
if (Buffer.byteLength(padded) !== 200) throw new Error(`baseline body is ${Buffer.byteLength(padded)} bytes`);

createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': 200 });
  response.end(padded);
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.send?.('ready'));
