import type { DatasetSize } from './dataset.js';
import type { Service } from './processes.js';

/** What every scenario gets: the data set, the running API, and knobs of this run. */
export interface BenchContext {
  quick: boolean;
  /** The PostgreSQL server (any database of it) the bench creates its databases on. */
  server: string;
  size: DatasetSize;
  databaseUrl: string;
  env: NodeJS.ProcessEnv;
  api: Service;
  /** `authorization` header of every request (a token created through the API). */
  auth: { authorization: string };
  /** Hot-path load duration, seconds. */
  seconds: number;
  connections: number;
  /** Starts a worker for the scenarios that need jobs; stopped by the runner. */
  worker: () => Promise<Service>;
}
