import { tokenCli, UsageError } from '../libs/auth/src/token.cli.js';
import { MembershipExpiryService } from '#libs/memberships';
import type { IncomingMessage } from 'node:http';
import type { Response } from 'superagent';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, eventually, type TestApp } from './support/app.js';
import { operations } from './support/contract.js';
import { factories } from './support/factories.js';
import { expectProblem } from './support/problems.js';

type Scope = 'read' | 'write' | 'admin';
interface Call {
  method: string;
  path: string;
  body?: object;
  csv?: string;
  /** An endless event stream: read only to its headers when it succeeds. */
  stream?: true;
}

const now = new Date();
const thisMonth = { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 };

/** A valid request for every protected operation of openapi.json (each runs once with the right scope, so each has its own fixtures). */
const CALLS: Record<string, Call> = {
  createSegment: { method: 'POST', path: '/segments', body: { slug: 'MATRIX_NEW' } },
  listSegments: { method: 'GET', path: '/segments' },
  getSegment: { method: 'GET', path: '/segments/MATRIX' },
  updateSegment: { method: 'PATCH', path: '/segments/MATRIX', body: { description: 'changed' } },
  deleteSegment: { method: 'DELETE', path: '/segments/MATRIX_DELETE' },
  listSegmentMembers: { method: 'GET', path: '/segments/MATRIX/users' },
  changeSegmentMembers: { method: 'POST', path: '/segments/MATRIX/members', body: { add: [7010] } },
  importSegmentMembers: { method: 'POST', path: '/segments/MATRIX/imports?mode=add', csv: '7011\n' },
  getImport: { method: 'GET', path: '/imports/{import}' },
  lookUpUsersSegments: { method: 'POST', path: '/users/segments/lookup', body: { user_ids: [7000] } },
  registerUser: { method: 'POST', path: '/users', body: { user_id: 7001 } },
  registerUsers: { method: 'POST', path: '/users/bulk', body: { user_ids: [7002, 7003] } },
  getUserSegments: { method: 'GET', path: '/users/7000/segments' },
  changeUserSegments: { method: 'PATCH', path: '/users/7000/segments', body: { add: ['MATRIX'] } },
  getUserHistory: { method: 'GET', path: '/users/7000/history' },
  listChanges: { method: 'GET', path: '/changes' },
  streamChanges: { method: 'GET', path: '/changes/stream', stream: true },
  createSegmentHistoryReport: { method: 'GET', path: `/reports/segment-history?year=${thisMonth.year}&month=${thisMonth.month}` },
  createToken: { method: 'POST', path: '/tokens', body: { name: 'made-by-matrix', scopes: ['read'] } },
  listTokens: { method: 'GET', path: '/tokens' },
  revokeToken: { method: 'DELETE', path: '/tokens/{revocable}' },
  compatCreateUser: { method: 'POST', path: '/user' },
  compatCreateSegment: { method: 'POST', path: '/segment', body: { slug: 'MATRIX_NEW_COMPAT' } },
  compatDeleteSegment: { method: 'DELETE', path: '/segment', body: { slug: 'MATRIX_DELETE_COMPAT' } },
  compatChangeUserSegments: { method: 'POST', path: '/segment/user', body: { user_id: 7004, add_segments: ['MATRIX'] } },
  compatGetUserSegments: { method: 'GET', path: '/segment/user/7000' },
  compatGetUserHistoryReport: { method: 'GET', path: `/segment/history/7000?year=${thisMonth.year}&month=${thisMonth.month}` },
};

/** Parses a problem answer whole; of an event stream only the headers are read, then the connection is closed. */
function problemOrStreamStart(res: Response, done: (error: Error | null, body: unknown) => void): void {
  // In Node, superagent hands its parsers the raw response.
  const response = res as unknown as IncomingMessage;
  if (response.headers['content-type']?.startsWith('text/event-stream')) {
    response.destroy();
    done(null, undefined);
    return;
  }
  let text = '';
  response.on('data', (chunk: Buffer) => (text += chunk.toString()));
  response.on('end', () => done(null, JSON.parse(text)));
}

/** What SPEC §3 says each operation needs; the document must say the same. */
const SCOPES: Record<string, Scope> = {
  listSegments: 'read',
  getSegment: 'read',
  listSegmentMembers: 'read',
  getUserSegments: 'read',
  getUserHistory: 'read',
  lookUpUsersSegments: 'read',
  listChanges: 'read',
  streamChanges: 'read',
  changeSegmentMembers: 'write',
  importSegmentMembers: 'admin',
  getImport: 'admin',
  compatGetUserSegments: 'read',
  registerUser: 'write',
  registerUsers: 'write',
  changeUserSegments: 'write',
  compatCreateUser: 'write',
  compatChangeUserSegments: 'write',
  createSegment: 'admin',
  updateSegment: 'admin',
  deleteSegment: 'admin',
  createSegmentHistoryReport: 'admin',
  createToken: 'admin',
  listTokens: 'admin',
  revokeToken: 'admin',
  compatCreateSegment: 'admin',
  compatDeleteSegment: 'admin',
  compatGetUserHistoryReport: 'admin',
};
const PUBLIC = ['downloadSegmentHistoryReport', 'getLiveness', 'getReadiness'];
const LOWER: Record<Scope, Scope | undefined> = { read: undefined, write: 'read', admin: 'write' };

describe('authentication and scopes', () => {
  let t: TestApp;
  const secrets: Record<string, string> = {};
  let revocableId: string;
  let importId: string;

  const createToken = async (name: string, scopes: Scope[]) => {
    const res = await t.http().post('/tokens').send({ name, scopes }).expect(201);
    return res.body as { id: string; token: string };
  };
  const send = (call: Call, secret?: string) => {
    const path = call.path.replace('{revocable}', revocableId).replace('{import}', importId);
    const http = t.http();
    const request = http[call.method.toLowerCase() as 'get'](path);
    if (secret === undefined) request.unset('authorization');
    else request.set('authorization', `Bearer ${secret}`);
    if (call.stream) request.buffer(true).parse(problemOrStreamStart);
    if (call.csv !== undefined) return request.set('content-type', 'text/csv').send(call.csv);
    return call.body ? request.send(call.body) : request;
  };

  beforeAll(async () => {
    t = await createTestApp();
    for (const slug of ['MATRIX', 'MATRIX_DELETE', 'MATRIX_DELETE_COMPAT']) await t.http().post('/segments').send({ slug }).expect(201);
    for (const scope of ['read', 'write', 'admin'] as const) secrets[scope] = (await createToken(`matrix-${scope}`, [scope])).token;
    const revoked = await createToken('matrix-revoked', ['admin']);
    await t.http().delete(`/tokens/${revoked.id}`).expect(204);
    secrets.revoked = revoked.token;
    const expired = await createToken('matrix-expired', ['admin']);
    await t.db.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    secrets.expired = expired.token;
    secrets.unknown = `seg_${'x'.repeat(43)}`;
    revocableId = (await createToken('matrix-revocable', ['read'])).id;
    importId = (await t.http().post('/segments/MATRIX/imports?mode=add').set('content-type', 'text/csv').send('7012\n').expect(202)).body
      .id;
  });
  afterAll(async () => t?.close());

  it('documents the scope of every operation as the contract says, and tests each', () => {
    const documented = Object.fromEntries(
      operations.map((operation) => [operation.operationId, (operation as { 'x-required-scope'?: Scope })['x-required-scope'] ?? 'public']),
    );
    expect(documented).toEqual({ ...SCOPES, ...Object.fromEntries(PUBLIC.map((id) => [id, 'public'])) });
    expect(Object.keys(CALLS).sort()).toEqual(Object.keys(SCOPES).sort());
  });

  describe.each(Object.entries(SCOPES))('%s (%s)', (operationId, scope) => {
    const call = CALLS[operationId]!;
    it.each([
      ['no token', undefined],
      ['an unknown token', 'unknown'],
      ['a revoked token', 'revoked'],
      ['an expired token', 'expired'],
    ])('answers 401 to %s', async (_label, which) => {
      const res = await send(call, which === undefined ? undefined : secrets[which]);
      expectProblem(res, 401, '/problems/unauthenticated');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="segmentation"/);
    });

    it.skipIf(LOWER[scope] === undefined)('answers 403 to a token without the scope', async () => {
      const res = await send(call, secrets[LOWER[scope]!]);
      expectProblem(res, 403, '/problems/forbidden');
      expect(res.headers['www-authenticate']).toContain(`error="insufficient_scope", scope="${scope}"`);
    });

    it('serves a token with the scope', async () => {
      const res = await send(call, secrets[scope]);
      expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
    });
  });

  it('answers a malformed Authorization header with 401 and lets health, documents and report links through without a token', async () => {
    for (const header of ['Basic abc', 'Bearer', 'Bearer two words', 'seg_abc']) {
      expectProblem(await t.http().get('/segments').set('authorization', header), 401, '/problems/unauthenticated');
    }
    const link = (await t.http().get(CALLS.createSegmentHistoryReport!.path).expect(200)).body.report_url as string;
    await t.http().get(new URL(link).pathname).unset('authorization').expect(200);
    for (const path of ['/health/live', '/health/ready', '/swagger/json']) await t.http().get(path).unset('authorization').expect(200);
  });

  it('needs a token of any scope for /metrics and counts refusals by reason', async () => {
    expectProblem(await t.http().get('/metrics').unset('authorization'), 401, '/problems/unauthenticated');
    const scrape = (await t.http().get('/metrics').set('authorization', `Bearer ${secrets.read}`).expect(200)).text;
    for (const reason of ['missing', 'unknown', 'revoked', 'expired', 'insufficient_scope', 'malformed']) {
      expect(scrape).toMatch(new RegExp(`^auth_failures_total\\{reason="${reason}",service="api"\\} [1-9]`, 'm'));
    }
    expect(scrape).not.toContain(secrets.read);
  });

  it('never writes a secret to the log, wherever in the URL a caller puts it', async () => {
    const logged: string[] = [];
    const record = (...args: unknown[]) => void logged.push(JSON.stringify(args));
    t.app.useLogger({ log: record, error: record, warn: record, debug: record, verbose: record, fatal: record });
    try {
      const secret = secrets.admin!;
      const link = new URL((await t.http().get(CALLS.createSegmentHistoryReport!.path).expect(200)).body.report_url as string).pathname;
      const linkToken = link.split('/').at(-1)!;
      expectProblem(await t.http().get(`/segments?access_token=${secret}`).unset('authorization'), 401, '/problems/unauthenticated');
      expectProblem(await t.http().get(`/segments?x=${secret}`), 400, '/problems/validation-error');
      expectProblem(await t.http().get(`/users/${secret}/segments`), 400, '/problems/validation-error');
      expectProblem(await t.http().get(`${link}/more`), 404, 'about:blank');
      expectProblem(await t.http().get(`${link}x`), 403, '/problems/invalid-report-link');
      expectProblem(await t.http().get(`/reports/segment-history?token=${linkToken}`), 400, '/problems/validation-error');
      expectProblem(await t.http().get(`/segments?${secret}`), 400, '/problems/validation-error');
      expect(logged).toHaveLength(7);
      expect(logged[0]).toContain('/segments?access_token=[REDACTED]');
      for (const line of logged) {
        expect(line).not.toContain(secret);
        expect(line).not.toContain(linkToken);
      }
    } finally {
      t.app.useLogger(['error', 'warn']);
    }
  });

  it('stores only digests, never shows a secret again, and records last use without a write per request', async () => {
    const { rows } = await t.db.query(`SELECT encode(secret_hash, 'hex') AS digest FROM api_tokens`);
    for (const secret of Object.values(secrets)) expect(JSON.stringify(rows)).not.toContain(secret);
    const listed = JSON.stringify((await t.http().get('/tokens').expect(200)).body);
    for (const secret of Object.values(secrets)) expect(listed).not.toContain(secret);
    expect(Object.values(secrets).filter((secret) => secret.startsWith('seg_') && secret.length >= 36)).toHaveLength(6);
  });

  it('creates, lists and revokes tokens from the command line (npm run token)', async () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    try {
      const env = { DATABASE_URL: t.config.DATABASE_URL };
      await tokenCli(['create', '--name', 'from-cli', '--scopes', 'write,read'], env);
      const secret = printed.at(-1)!.split('\n').at(-1)!;
      const { id } = JSON.parse(printed[0]!) as { id: string };
      expect(secret).toMatch(/^seg_[\w-]{43}$/);
      await t
        .http()
        .patch('/users/7100/segments')
        .set('authorization', `Bearer ${secret}`)
        .send({ add: ['MATRIX'] })
        .expect(200);
      await tokenCli(['list'], env);
      expect(printed.some((line) => line.includes('"from-cli"'))).toBe(true);
      await tokenCli(['revoke', id], env);
      await expect(tokenCli(['create', '--name', 'x', '--scopes', 'root'], env)).rejects.toBeInstanceOf(UsageError);
      await expect(tokenCli(['create', '--scopes', 'read'], env)).rejects.toBeInstanceOf(UsageError);
    } finally {
      log.mockRestore();
    }
  });

  it('refuses a revoked token at once on the instance that revoked it, and within 5 s on another', async () => {
    const other = await t.spawn();
    try {
      const otherHttp = (await import('supertest')).default(other.getHttpServer());
      const token = await createToken('revoked-later', ['read']);
      await t.http().get('/segments').set('authorization', `Bearer ${token.token}`).expect(200);
      await otherHttp.get('/segments').set('authorization', `Bearer ${token.token}`).expect(200);
      await t.http().delete(`/tokens/${token.id}`).expect(204);
      const revokedAt = Date.now();
      await t.http().get('/segments').set('authorization', `Bearer ${token.token}`).expect(401);
      await eventually(async () => (await otherHttp.get('/segments').set('authorization', `Bearer ${token.token}`)).status === 401, 6000);
      expect(Date.now() - revokedAt).toBeLessThanOrEqual(5000);
    } finally {
      await other.close();
    }
  });
});

describe('audit: the actor of every history entry', () => {
  let t: TestApp;
  let checkout: string;

  beforeAll(async () => {
    t = await createTestApp({ RUN_WORKER_IN_API: true, RECONCILE_INTERVAL_MS: 300, EXPIRY_SWEEP_INTERVAL_MS: 300 });
    checkout = (
      await t
        .http()
        .post('/tokens')
        .send({ name: 'checkout-service', scopes: ['write'] })
        .expect(201)
    ).body.token;
  });
  afterAll(async () => t?.close());

  it('records the token name for manual changes, auto, ttl, and the deleting token for segment_deleted', async () => {
    const ops = (
      await t
        .http()
        .post('/tokens')
        .send({ name: 'ops-team', scopes: ['admin'] })
        .expect(201)
    ).body.token;
    await t.http().post('/segments').send({ slug: 'AUDITED' }).expect(201);
    await t.http().post('/segments').send({ slug: 'AUDITED_AUTO', auto_percent: 100 }).expect(201);
    await eventually(async () => (await t.http().get('/segments/AUDITED_AUTO').expect(200)).body.rollout.state === 'done');
    await t
      .http()
      .patch('/users/42/segments')
      .set('authorization', `Bearer ${checkout}`)
      .send({ add: ['AUDITED', { slug: 'AUDITED_AUTO', ttl_seconds: 1 }] })
      .expect(200);
    await factories(t.db).elapse(42, 2);
    await t.app.get(MembershipExpiryService).sweep();
    await t.http().post('/users').send({ user_id: 43 }).expect(201);
    await t.http().delete('/segments/AUDITED').set('authorization', `Bearer ${ops}`).expect(204);
    await eventually(
      async () => (await t.db.query(`SELECT 1 FROM segments WHERE slug = 'AUDITED' AND purged_at IS NOT NULL`)).rowCount === 1,
    );

    const history = async (userId: number) =>
      (await t.http().get(`/users/${userId}/history`).expect(200)).body.items.map(
        (entry: { segment: string; operation: string; reason: string; actor: string }) =>
          `${entry.operation} ${entry.segment} ${entry.reason} ${entry.actor}`,
      );
    expect((await history(42)).reverse()).toEqual([
      'add AUDITED manual checkout-service',
      'add AUDITED_AUTO manual checkout-service',
      'remove AUDITED_AUTO ttl ttl',
      // The automatic segment takes its selected user back once the manual membership lapsed.
      'add AUDITED_AUTO auto auto',
      'remove AUDITED segment_deleted ops-team',
    ]);
    expect(await history(43)).toEqual(['add AUDITED_AUTO auto auto']);

    const link = (await t.http().get(`/reports/segment-history?year=${thisMonth.year}&month=${thisMonth.month}&user_id=42`).expect(200))
      .body.report_url;
    const csv = (await t.http().get(new URL(link).pathname).expect(200)).text.trim().split('\n');
    expect(csv[0]).toBe('user_id;segment;operation;occurred_at;actor');
    expect(csv.slice(1).map((line) => line.split(';').at(-1))).toEqual(expect.arrayContaining(['checkout-service', 'ttl', 'ops-team']));
    const legacy = (await t.http().get(`/segment/history/42?year=${thisMonth.year}&month=${thisMonth.month}`).expect(200)).body.report_link;
    const original = (await t.http().get(new URL(legacy).pathname).expect(200)).text.trim().split('\n');
    expect(original[0]).toBe('user_id,segment_slug,operation,executed_at');
    expect(original.slice(1).every((line) => line.split(',').length === 4)).toBe(true);
  });
});
