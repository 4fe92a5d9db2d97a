import {
  changeSegmentMembers,
  changeUserSegments,
  compatChangeUserSegments,
  compatCreateSegment,
  compatCreateUser,
  compatDeleteSegment,
  compatGetUserHistoryReport,
  compatGetUserSegments,
  createSegment,
  createSegmentationClient,
  createSegmentHistoryReport,
  createToken,
  deleteSegment,
  downloadSegmentHistoryReport,
  getLiveness,
  getReadiness,
  getImport,
  getSegment,
  getUserHistory,
  getUserSegments,
  importSegmentMembers,
  listChanges,
  listSegmentMembers,
  listSegments,
  listTokens,
  lookUpUsersSegments,
  registerUser,
  registerUsers,
  revokeToken,
  streamChanges,
  updateSegment,
  type Client,
} from '#libs/client';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_TOKEN, createTestApp, eventually, type TestApp } from './support/app.js';
import { ContractRecorder, operations } from './support/contract.js';
import { startPrismProxy, type PrismProxy } from './support/prism.js';

/**
 * Every operation through the generated client against the running service; each response
 * is checked against openapi.json (status, content type, and body with no undocumented
 * field), so the code, the document and the client cannot drift apart. With CONTRACT_PRISM
 * set (`npm run test:prism`, CI), the client talks to the service through Stoplight Prism,
 * whose own findings count as violations too.
 */
describe('API contract through the generated client', () => {
  let t: TestApp;
  let client: Client;
  /** The service itself, for the event stream: Prism buffers a response whole, so a stream would never arrive through it. */
  let streamClient: Client;
  let prism: PrismProxy | undefined;
  const contract = new ContractRecorder();
  const path = { user_id: 1000 };

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    const service = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    prism = process.env.CONTRACT_PRISM ? await startPrismProxy(service) : undefined;
    client = createSegmentationClient(prism?.url ?? service, BOOTSTRAP_TOKEN);
    streamClient = createSegmentationClient(service, BOOTSTRAP_TOKEN);
    contract.attach(client);
  });
  afterEach(() => {
    expect(contract.violations.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await prism?.close();
    await t?.close();
  });

  it('segments: create, read, list, change, members, delete, and their errors', async () => {
    const created = await createSegment({ client, body: { slug: 'AVITO_VOICE_MESSAGES', description: 'Voice', auto_percent: null } });
    expect(created.response.status).toBe(201);
    expect(created.data?.slug).toBe('AVITO_VOICE_MESSAGES');
    const duplicate = await createSegment({ client, body: { slug: 'AVITO_VOICE_MESSAGES' } });
    expect(duplicate.error?.status).toBe(409);
    const invalid = await createSegment({ client, body: { slug: 'bad slug' } });
    expect(invalid.error?.errors?.[0]?.field).toBe('slug');

    expect((await listSegments({ client, query: { limit: 10 } })).data?.items.map((segment) => segment.slug)).toEqual([
      'AVITO_VOICE_MESSAGES',
    ]);
    expect((await listSegments({ client, query: { limit: 0 } })).error?.status).toBe(400);

    await changeUserSegments({ client, path, body: { add: ['AVITO_VOICE_MESSAGES'] } });
    const details = await getSegment({ client, path: { slug: 'AVITO_VOICE_MESSAGES' } });
    expect(details.data).toMatchObject({ member_count: 1, rollout: null });
    expect((await getSegment({ client, path: { slug: 'NOPE' } })).error?.status).toBe(404);

    const changed = await updateSegment({
      client,
      path: { slug: 'AVITO_VOICE_MESSAGES' },
      body: { description: 'Voice messages', auto_percent: 5 },
    });
    expect(changed.data).toMatchObject({ description: 'Voice messages', auto_percent: 5 });
    expect((await getSegment({ client, path: { slug: 'AVITO_VOICE_MESSAGES' } })).data?.rollout?.state).toMatch(/pending|running|done/);
    expect((await updateSegment({ client, path: { slug: 'NOPE' }, body: {} })).error?.status).toBe(404);

    const members = await listSegmentMembers({ client, path: { slug: 'AVITO_VOICE_MESSAGES' }, query: { limit: 10 } });
    expect(members.data?.items).toEqual([{ user_id: 1000, expires_at: null, source: 'manual' }]);
    expect((await listSegmentMembers({ client, path: { slug: 'NOPE' } })).error?.status).toBe(404);

    expect((await deleteSegment({ client, path: { slug: 'AVITO_VOICE_MESSAGES' } })).response.status).toBe(204);
    expect((await deleteSegment({ client, path: { slug: 'AVITO_VOICE_MESSAGES' } })).error?.status).toBe(404);
  });

  it('users: register, bulk, read and change segments, and their errors', async () => {
    await createSegment({ client, body: { slug: 'AVITO_DISCOUNT_30' } });
    expect((await registerUser({ client, body: { user_id: 2000 } })).response.status).toBe(201);
    expect((await registerUser({ client, body: { user_id: 2000 } })).response.status).toBe(200);
    expect((await registerUser({ client, body: {} })).data?.user_id).toEqual(expect.any(Number));
    expect((await registerUser({ client, body: { user_id: 0 } })).error?.status).toBe(400);
    expect((await registerUsers({ client, body: { user_ids: [2000, 2001] } })).data).toEqual({ created: 1, existing: 1 });
    expect((await registerUsers({ client, body: { user_ids: [] } })).error?.status).toBe(400);

    const changed = await changeUserSegments({
      client,
      path: { user_id: 2000 },
      body: { add: [{ slug: 'AVITO_DISCOUNT_30', ttl_seconds: 3600 }] },
    });
    expect(changed.data).toMatchObject({ user_id: 2000, added: ['AVITO_DISCOUNT_30'], removed: [] });
    const unknown = await changeUserSegments({ client, path: { user_id: 2000 }, body: { add: ['NOPE'] } });
    expect(unknown.error).toMatchObject({ status: 422, errors: [{ field: 'add[0]', message: 'segment "NOPE" does not exist' }] });
    const segments = await getUserSegments({ client, path: { user_id: 2000 } });
    expect(segments.data?.segments.map((segment) => segment.slug)).toEqual(['AVITO_DISCOUNT_30']);
    expect((await getUserSegments({ client, path: { user_id: -1 } })).error?.status).toBe(400);
  });

  it('campaigns: bulk members, lookups, CSV imports, and their errors', async () => {
    await createSegment({ client, body: { slug: 'CAMPAIGN' } });
    const bulk = await changeSegmentMembers({ client, path: { slug: 'CAMPAIGN' }, body: { add: [4000, 4001], remove: [4002] } });
    expect(bulk.data).toEqual({ added: 2, removed: 0 });
    expect((await changeSegmentMembers({ client, path: { slug: 'CAMPAIGN' }, body: { add: [1], remove: [1] } })).error?.status).toBe(400);
    expect((await changeSegmentMembers({ client, path: { slug: 'NOPE' }, body: { add: [1] } })).error?.status).toBe(404);
    const lookup = await lookUpUsersSegments({ client, body: { user_ids: [4001, 5] } });
    expect(lookup.data?.items.map((item) => [item.user_id, item.segments.map((segment) => segment.slug)])).toEqual([
      [4001, ['CAMPAIGN']],
      [5, []],
    ]);
    const started = await importSegmentMembers({
      client,
      path: { slug: 'CAMPAIGN' },
      query: { mode: 'add' },
      body: 'user_id\n4003\n4004\n',
    });
    expect(started.response.status).toBe(202);
    expect(started.data).toMatchObject({ segment: 'CAMPAIGN', mode: 'add', total: 2 });
    expect((await getImport({ client, path: { id: started.data!.id } })).data?.id).toBe(started.data!.id);
    const rejected = await importSegmentMembers({ client, path: { slug: 'CAMPAIGN' }, query: { mode: 'add' }, body: 'x\n' });
    expect(rejected.data).toMatchObject({ state: 'failed', bad_lines: [{ line: 1 }] });
    expect((await getImport({ client, path: { id: '00000000-0000-4000-8000-000000000000' } })).error?.status).toBe(404);
  });

  it('history and reports', async () => {
    const history = await getUserHistory({ client, path: { user_id: 2000 }, query: { limit: 10 } });
    expect(history.data?.items[0]).toMatchObject({ segment: 'AVITO_DISCOUNT_30', operation: 'add', reason: 'manual' });
    expect((await getUserHistory({ client, path: { user_id: 2000 }, query: { from: 'yesterday' } })).error?.status).toBe(400);

    const now = new Date();
    const link = await createSegmentHistoryReport({
      client,
      query: { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1, user_id: 2000 },
    });
    const token = link.data!.report_url.split('/').at(-1)!;
    const csv = await downloadSegmentHistoryReport({ client, path: { token } });
    expect(String(csv.data)).toMatch(/^user_id;segment;operation;occurred_at;actor\n2000;AVITO_DISCOUNT_30;add;[^;]+;bootstrap\n/);
    expect((await downloadSegmentHistoryReport({ client, path: { token: `${token}x` } })).error?.status).toBe(403);
    expect((await createSegmentHistoryReport({ client, query: { year: 2026, month: 13 } })).error?.status).toBe(400);
  });

  it('change feed: pages, the event stream, and their errors', async () => {
    await createSegment({ client, body: { slug: 'FEED' } });
    await changeUserSegments({ client, path: { user_id: 5000 }, body: { add: ['FEED'] } });
    const first = await listChanges({ client, query: { limit: 1 } });
    expect(first.data?.items).toHaveLength(1);
    let cursor = first.data!.next_cursor!;
    // The feed publishes a change shortly after its commit (the relay): read on until user 5000's is there.
    await eventually(async () => {
      let seen = false;
      for (let page = first; page.data!.items.length > 0; cursor = page.data!.next_cursor!) {
        page = await listChanges({ client, query: { after: cursor, limit: 10_000 } });
        seen ||= page.data!.items.some((change) => change.user_id === 5000);
      }
      return seen;
    });
    expect((await listChanges({ client, query: { after: 'nope!' } })).error?.status).toBe(400);

    const abort = new AbortController();
    const { stream } = await streamChanges({
      client: streamClient,
      query: { after: cursor },
      signal: abort.signal,
      sseMaxRetryAttempts: 1,
    });
    await changeUserSegments({ client, path: { user_id: 5001 }, body: { add: ['FEED'] } });
    const { value } = await stream.next();
    abort.abort();
    contract.event('streamChanges', value);
    expect(value).toMatchObject({ user_id: 5001, segment: 'FEED', operation: 'add', reason: 'manual', actor: 'bootstrap' });
  });

  it('tokens: create, list, revoke, and their errors', async () => {
    const created = await createToken({ client, body: { name: 'contract', scopes: ['read'] } });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ name: 'contract', scopes: ['read'], expires_at: null, token: expect.stringMatching(/^seg_/) });
    expect((await createToken({ client, body: { name: 'contract', scopes: [] } })).error?.status).toBe(400);
    const listed = await listTokens({ client, query: { limit: 10 } });
    expect(listed.data?.items.map((token) => token.name)).toContain('contract');
    expect(JSON.stringify(listed.data)).not.toContain(created.data!.token);
    const reader = createSegmentationClient(client.getConfig().baseUrl!, created.data!.token);
    contract.attach(reader);
    expect((await listSegments({ client: reader })).response.status).toBe(200);
    expect((await listTokens({ client: reader })).error).toMatchObject({ status: 403, type: '/problems/forbidden' });
    expect((await revokeToken({ client, path: { id: created.data!.id } })).response.status).toBe(204);
    expect((await revokeToken({ client, path: { id: '00000000-0000-4000-8000-000000000000' } })).error?.status).toBe(404);
    expect((await listSegments({ client: reader })).error).toMatchObject({ status: 401, type: '/problems/unauthenticated' });
  });

  it('operations: liveness and readiness', async () => {
    expect((await getLiveness({ client })).data?.status).toBe('ok');
    expect((await getReadiness({ client })).data).toEqual({ status: 'ok', checks: { database: 'up', migrations: 'up', redis: 'up' } });
  });

  it('compatibility routes', async () => {
    expect((await compatCreateSegment({ client, body: { slug: 'AVITO_PERFORMANCE_VAS' } })).data?.created_at).toEqual(expect.any(String));
    const changed = await compatChangeUserSegments({
      client,
      body: { user_id: 3000, add_segments: ['AVITO_PERFORMANCE_VAS'], delete_segments: [] },
    });
    expect(changed.data).toEqual({ segments_added: 1, segments_deleted: 0 });
    expect((await compatGetUserSegments({ client, path: { user_id: 3000 } })).data).toEqual({
      segments: [{ slug: 'AVITO_PERFORMANCE_VAS' }],
    });
    expect((await compatCreateUser({ client })).data?.user_id).toEqual(expect.any(Number));
    const now = new Date();
    const report = await compatGetUserHistoryReport({
      client,
      path: { user_id: 3000 },
      query: { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 },
    });
    expect(report.data?.report_link).toMatch(/\/reports\/segment-history\//);
    expect((await compatDeleteSegment({ client, body: { slug: 'AVITO_PERFORMANCE_VAS' } })).data).toEqual({ message: 'ok' });
  });

  it('has called every operation', () => {
    const missed = operations.map((operation) => operation.operationId).filter((operationId) => !contract.called.has(operationId));
    expect(missed).toEqual([]);
  });
});
