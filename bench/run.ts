import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { BenchContext } from './context.js';
import { createDatabase, fillDataset, FULL, QUICK, serviceMaintenanceDone } from './dataset.js';
import { createBenchToken, serviceEnv, startApi, startWorker, type Service } from './processes.js';
import { compatGet, get, patch } from './scenarios/hot-paths.js';
import { bulkMembers, csvImport, lookup } from './scenarios/campaigns.js';
import { citus } from './scenarios/citus.js';
import { feedDelivery, feedRead } from './scenarios/feed.js';
import { apiFilled } from './scenarios/filled.js';
import { duringCampaigns } from './scenarios/interference.js';
import { csv } from './scenarios/history.js';
import { bulkRegistration, deletion, expiry, rollout } from './scenarios/jobs.js';
import { printTable, type Row } from './table.js';

/**
 * `npm run bench [-- <name>…] [--quick]`: the performance targets (README, How it scales), each figure beside a baseline
 * measured in the same run. Names: get, compat, patch, filled (both hot paths on an API-filled data set), history (csv), rollout, delete,
 * expiry, bulk, members, import, lookup, during-campaigns, feed-read, feed-stream, citus (only when named); groups: hot, jobs, campaigns, feed. --quick uses a small data set and short loads (CI runs it
 * to keep the harness working; its figures are not the targets' conditions).
 */
const SCENARIOS: Record<string, (context: BenchContext) => Promise<Row[]>> = {
  get,
  compat: compatGet,
  patch,
  filled: apiFilled,
  history: csv,
  bulk: bulkRegistration,
  members: bulkMembers,
  import: csvImport,
  lookup,
  'during-campaigns': duringCampaigns,
  'feed-read': feedRead,
  'feed-stream': feedDelivery,
  rollout,
  delete: deletion,
  expiry,
  citus,
};
const GROUPS: Record<string, string[]> = {
  hot: ['get', 'compat', 'patch', 'filled'],
  campaigns: ['members', 'import', 'lookup', 'during-campaigns'],
  feed: ['feed-read', 'feed-stream'],
  jobs: ['rollout', 'delete', 'expiry'],
  csv: ['history'],
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const requested = args.filter((arg) => !arg.startsWith('--')).flatMap((name) => GROUPS[name] ?? [name]);
const unknown = requested.filter((name) => !SCENARIOS[name]);
if (unknown.length > 0) {
  console.error(`Unknown scenario(s): ${unknown.join(', ')}. Known: ${[...Object.keys(SCENARIOS), ...Object.keys(GROUPS)].join(', ')}`);
  process.exit(2);
}
// The Citus comparison starts a cluster of its own and takes about ten minutes: it runs when named.
const ON_REQUEST = ['citus'];
const selected =
  requested.length > 0
    ? Object.keys(SCENARIOS).filter((name) => requested.includes(name))
    : Object.keys(SCENARIOS).filter((name) => !ON_REQUEST.includes(name));

const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const size = quick ? QUICK : FULL;
const log = (message: string) => console.error(`[bench] ${message}`);

log(
  `data set: ${size.users} users, ${size.segments} segments, ${size.historyLastMonth + size.historyThisMonth} history rows${quick ? ' (quick)' : ''}`,
);
const databaseUrl = await createDatabase(server, quick ? 'seg_bench_quick' : 'seg_bench');
const env = serviceEnv(databaseUrl);
const workers: Service[] = [];
// The API's start creates the history partitions the data set writes into.
const api = await startApi(env, 3930);
const rows: Row[] = [];
try {
  const started = Date.now();
  await fillDataset(databaseUrl, size);
  log(`data set generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const context: BenchContext = {
    quick,
    server,
    size,
    databaseUrl,
    env,
    api,
    auth: { authorization: `Bearer ${await createBenchToken(api.url)}` },
    seconds: quick ? 3 : 10,
    connections: 64,
    worker: async () => {
      const worker = await startWorker({ ...env, EXPIRY_SWEEP_INTERVAL_MS: '1000', RECONCILE_INTERVAL_MS: '1000' }, 3932 + workers.length);
      workers.push(worker);
      return worker;
    },
  };

  for (const name of selected) {
    await serviceMaintenanceDone(databaseUrl);
    log(`running ${name}`);
    rows.push(...(await SCENARIOS[name]!(context)));
  }
} finally {
  await Promise.all(workers.map((worker) => worker.stop()));
  await api.stop();
}

const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const table = printTable(rows);
const report = `Bench ${new Date().toISOString()}${quick ? ' (--quick)' : ''} on ${machine}\n\n${table}\n`;
console.log(report);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`../../bench/results/latest${quick ? '-quick' : ''}.md`, import.meta.url), report);
