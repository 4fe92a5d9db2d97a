import { Redis } from 'ioredis';
import pg from 'pg';

/** Where the suite's PostgreSQL and Redis are, and how to stop what the run started. */
export interface TestServices {
  databaseUrl: string;
  redisUrl: string;
  stop: () => Promise<void>;
}

const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * PostgreSQL and Redis for the run, each found in this order: DATABASE_URL / REDIS_URL; a
 * server on its default local port; a container started by testcontainers (Docker). What
 * none of them provides is named, with how to provide it.
 */
export async function findTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const stops: (() => Promise<unknown>)[] = [];
  const missing: string[] = [];

  let databaseUrl = env.DATABASE_URL ?? ((await postgresAnswers(LOCAL_DATABASE_URL)) ? LOCAL_DATABASE_URL : undefined);
  let redisUrl = env.REDIS_URL ?? ((await redisAnswers(LOCAL_REDIS_URL)) ? LOCAL_REDIS_URL : undefined);

  if (!databaseUrl) {
    try {
      // Imported only when needed: without a container runtime, testcontainers is of no use.
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:15-alpine').start();
      stops.push(() => container.stop());
      databaseUrl = container.getConnectionUri();
    } catch (error) {
      missing.push(
        `PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres; the tests create and drop databases of ` +
          `their own there), run one on 127.0.0.1:5432 accepting user postgres, or run Docker for testcontainers (${(error as Error).message})`,
      );
    }
  }
  if (!redisUrl) {
    try {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7-alpine').start();
      stops.push(() => container.stop());
      redisUrl = container.getConnectionUrl();
    } catch (error) {
      missing.push(
        `Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379; the tests use key prefixes of their own), run one on 127.0.0.1:6379, ` +
          `or run Docker for testcontainers (${(error as Error).message})`,
      );
    }
  }
  const stop = async () => {
    await Promise.all(stops.map((stopOne) => stopOne()));
  };
  if (missing.length > 0 || !databaseUrl || !redisUrl) {
    await stop();
    throw new Error(`The tests need a real PostgreSQL and Redis.\n  - ${missing.join('\n  - ')}`);
  }
  return { databaseUrl, redisUrl, stop };
}
