import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  NotEquals,
  ValidateIf,
  validateSync,
} from 'class-validator';

/** Development default; production must set REPORT_LINK_SECRET (checked below). */
const DEV_REPORT_LINK_SECRET = 'development-only-report-link-secret';

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value);
const toBool = ({ value }: { value: unknown }) => {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
};

/**
 * Every setting the service reads, taken from the environment (names are the
 * environment variable names). Defaults point at a local PostgreSQL and Redis.
 */
export class AppConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @IsString()
  HOST = '0.0.0.0';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** Port of the worker's /metrics and /health endpoints. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  WORKER_PORT = 3001;

  @Matches(/^postgres(ql)?:\/\/[^\s]+$/, { message: 'must be a postgres:// connection URL' })
  DATABASE_URL = 'postgres://postgres@localhost:5432/segmentation';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  DATABASE_POOL_SIZE = 10;

  /** Apply pending migrations when the API starts (behind an advisory lock, so replicas can start together). */
  @Transform(toBool)
  @IsBoolean()
  RUN_MIGRATIONS = true;

  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'must be a redis:// connection URL' })
  REDIS_URL = 'redis://localhost:6379';

  /** Namespace of every Redis key this service writes, so several deployments can share one Redis. */
  // Braces allowed: `{name}` is the hash tag that keeps Bull's keys in one Redis Cluster slot.
  @Matches(/^[A-Za-z0-9_:.{}-]{1,64}$/, { message: 'must be 1-64 characters of A-Z a-z 0-9 _ : . - { }' })
  REDIS_PREFIX = 'segmentation';

  /** Largest accepted request body; a bulk registration of 100 000 ids is about 1.7 MB. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  BODY_LIMIT_BYTES = 4 * 1024 * 1024;

  /** Time a client has to send the request headers; then 408 and the connection is closed. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  HTTP_HEADERS_TIMEOUT_MS = 10_000;

  /**
   * Time a client has to send a whole request (headers and body); then 408 and the connection is
   * closed, so a half-sent body never holds a connection. Large CSV imports need it long enough.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_REQUEST_TIMEOUT_MS = 120_000;

  /** A connection on which nothing arrives or leaves for this long is closed. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_IDLE_TIMEOUT_MS = 60_000;

  /** An idle keep-alive connection between two requests is closed after this long. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;

  /** Largest CSV import file (streamed, never held in memory); 10 000 000 ids of 16 digits are about 170 MB. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(4 * 1024 * 1024 * 1024)
  IMPORT_BODY_LIMIT_BYTES = 256 * 1024 * 1024;

  /** Change-feed streams (Server-Sent Events) one API instance serves at once; beyond, 503. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  FEED_MAX_STREAMS = 200;

  /**
   * How often each process's change-feed relay looks for newly committed history entries to
   * publish (0: this process runs no relay). A change reaches the feed within about this long.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10_000)
  FEED_RELAY_INTERVAL_MS = 100;

  /** A change-feed stream with nothing to send sends a comment this often, so proxies keep it open. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(300_000)
  FEED_HEARTBEAT_MS = 15_000;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Membership write transactions running at once per process (each batches the requests that arrived meanwhile). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  WRITE_BATCH_CONCURRENCY = 4;

  /** Most requests applied together in one membership write transaction. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  WRITE_BATCH_MAX_SIZE = 256;

  /** Rows per transaction of background jobs (rollout chunks, purge and expiry batches). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  JOB_BATCH_SIZE = 10_000;

  /** Attempts of a failing job before it is marked failed (retries back off exponentially from JOB_BACKOFF_MS). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  JOB_ATTEMPTS = 5;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3_600_000)
  JOB_BACKOFF_MS = 1_000;

  /** How often due memberships are removed (reads hide them from their expiry instant anyway). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  EXPIRY_SWEEP_INTERVAL_MS = 5_000;

  /**
   * How often a worker re-derives background work from PostgreSQL (unfinished rollouts and
   * purges, its repeatable jobs), which is what makes jobs survive a Redis loss.
   */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  RECONCILE_INTERVAL_MS = 30_000;

  /** Run the job processors inside the API process too (single-process mode of `npm start`). */
  @Transform(toBool)
  @IsBoolean()
  RUN_WORKER_IN_API = false;

  /** Months of history to keep (older monthly partitions are dropped); 0 keeps everything. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1200)
  HISTORY_RETENTION_MONTHS = 0;

  /**
   * Key that signs report links, so that any API instance can serve any link and a tampered
   * link is refused. Must be the same on every instance; required in production.
   */
  @ValidateIf((config: AppConfig) => config.NODE_ENV === 'production' || config.REPORT_LINK_SECRET !== DEV_REPORT_LINK_SECRET)
  @IsString()
  @MinLength(32, { message: 'must be at least 32 characters (and set explicitly in production)' })
  @NotEquals(DEV_REPORT_LINK_SECRET, { message: 'must be set in production' })
  REPORT_LINK_SECRET = DEV_REPORT_LINK_SECRET;

  /**
   * An admin token accepted as given (at least 32 characters), for the first start, compose and
   * tests; it acts as `bootstrap` in history. Create named tokens with it (POST /tokens or
   * `npm run token`), then unset it.
   */
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x7e]{32,256}$/, { message: 'must be 32-256 visible ASCII characters' })
  AUTH_BOOTSTRAP_TOKEN: string | undefined = undefined;

  /** How long a report link stays valid. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(30 * 24 * 3600)
  REPORT_LINK_TTL_SECONDS = 24 * 3600;

  /**
   * Base of the report links handed out (e.g. https://segments.example.com): links are never
   * built from a request's Host header. Required in production; default http://localhost:PORT.
   */
  @ValidateIf((config: AppConfig) => config.NODE_ENV === 'production' || config.PUBLIC_BASE_URL !== undefined)
  @IsDefined({ message: 'must be set in production' })
  @Matches(/^https?:\/\/[^\s?#]+[^/\s?#]$/, { message: 'must be an http(s) URL without a trailing slash' })
  PUBLIC_BASE_URL: string | undefined = undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Builds the configuration from `env`; a bad value throws a ConfigError naming each variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const known = Object.keys(new AppConfig());
  const provided = Object.fromEntries(known.filter((key) => env[key] !== undefined && env[key] !== '').map((key) => [key, env[key]]));
  const config = plainToInstance(AppConfig, provided);
  const errors = validateSync(config, { forbidUnknownValues: true });
  const problems = errors.map((error) => ({ property: error.property, messages: Object.values(error.constraints ?? {}) }));
  if (problems.length === 0 && config.HTTP_REQUEST_TIMEOUT_MS < config.HTTP_HEADERS_TIMEOUT_MS) {
    problems.push({ property: 'HTTP_REQUEST_TIMEOUT_MS', messages: ['must not be shorter than HTTP_HEADERS_TIMEOUT_MS'] });
  }
  if (problems.length > 0) {
    const lines = problems.map(({ property, messages }) => {
      const got = provided[property] === undefined ? 'unset' : JSON.stringify(provided[property]);
      return `  ${property}: ${messages.join('; ')} (got ${got})`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return config;
}
