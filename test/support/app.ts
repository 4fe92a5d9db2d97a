import { setTimeout as sleep } from 'node:timers/promises';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '#libs/config';
import { Redis } from 'ioredis';
import pg from 'pg';
import request from 'supertest';
import { inject } from 'vitest';
import { ApiModule } from '../../apps/api/src/api.module.js';
import { SingleProcessModule } from '../../apps/api/src/single-process.module.js';
import { configureApp } from '../../apps/api/src/app.js';
import { createHttpAdapter, HTTP_APP_OPTIONS } from '#libs/http';
import { createSuiteDatabase } from './database.js';

/** The admin token of every test application (AUTH_BOOTSTRAP_TOKEN); it acts as `bootstrap` in history. */
export const BOOTSTRAP_TOKEN = 'test-bootstrap-token-0123456789abcdef';

export interface TestApp {
  /** The application under test; a suite may replace it (e.g. to restart it), `http` and `close` follow. */
  app: NestFastifyApplication;
  /** supertest against the app's HTTP server, authorized with the bootstrap (admin) token; `.unset('authorization')` drops it. */
  http: () => ReturnType<typeof request.agent>;
  /** Direct access to the suite's database, for arranging and asserting. */
  db: pg.Pool;
  config: AppConfig;
  /**
   * Another instance (e.g. a restarted worker) on the same database and Redis prefix; the
   * suite's `close()` does not close it.
   */
  spawn: (overrides?: Partial<AppConfig>) => Promise<NestFastifyApplication>;
  close: () => Promise<void>;
}

type Customize = (builder: TestingModuleBuilder) => TestingModuleBuilder;

/**
 * The API (with the job processors when RUN_WORKER_IN_API) on a database of its own (a copy
 * of the migrated template) and a Redis prefix of its own; `close()` drops both.
 */
export async function createTestApp(overrides: Partial<AppConfig> = {}, customize: Customize = (builder) => builder): Promise<TestApp> {
  const database = await createSuiteDatabase();
  const config = Object.assign(new AppConfig(), {
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `test:${database.name}`,
    RUN_MIGRATIONS: false,
    AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
    PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
    ...overrides,
  } satisfies Partial<AppConfig>);
  const app = await startApp(config, customize);
  const db = new pg.Pool({ connectionString: config.DATABASE_URL, max: 4 });

  const testApp: TestApp = {
    app,
    http: () => request.agent(testApp.app.getHttpServer()).set('authorization', `Bearer ${BOOTSTRAP_TOKEN}`),
    db,
    config,
    spawn: (more = {}) => startApp(Object.assign(new AppConfig(), config, more)),
    close: async () => {
      await testApp.app.close();
      await db.end();
      await deleteRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
      await database.drop();
    },
  };
  return testApp;
}

async function startApp(config: AppConfig, customize: Customize = (builder) => builder): Promise<NestFastifyApplication> {
  const root = config.RUN_WORKER_IN_API ? SingleProcessModule : ApiModule;
  const moduleRef = await customize(
    Test.createTestingModule({ imports: [root] })
      .overrideProvider(AppConfig)
      .useValue(config),
  ).compile();
  const app = configureApp(
    moduleRef.createNestApplication<NestFastifyApplication>(createHttpAdapter(config), { ...HTTP_APP_OPTIONS, logger: ['error', 'warn'] }),
  );
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** How long background work may take by default: three times longer on a local Citus cluster (three servers on two cores). */
const EVENTUALLY_MS = (inject('citusNodes') ?? []).length > 0 ? 60_000 : 20_000;

/** Resolves once `check` returns a truthy value (polling), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = EVENTUALLY_MS,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Removes every key of a suite's Redis prefix. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // A suite that runs without Redis has nothing to clean up.
  } finally {
    redis.disconnect();
  }
}
