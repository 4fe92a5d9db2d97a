import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { AppConfig, ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import pg from 'pg';
import { inject } from 'vitest';
import { deleteRedisKeys } from './app.js';
import { createSuiteDatabase } from './database.js';
import { factories, type Factories } from './factories.js';

export interface ServiceSuite {
  module: TestingModule;
  get: TestingModule['get'];
  /** Direct access to the suite's database, for arranging and asserting. */
  db: pg.Pool;
  make: Factories;
  config: AppConfig;
  close: () => Promise<void>;
}

/**
 * Feature modules without HTTP, on a database of the suite's own (a copy of the migrated
 * template) and a Redis prefix of its own: the service-level tier.
 */
export async function createServiceSuite(imports: (Type | DynamicModule)[], overrides: Partial<AppConfig> = {}): Promise<ServiceSuite> {
  const database = await createSuiteDatabase();
  const config = Object.assign(new AppConfig(), {
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `test:${database.name}`,
    RUN_MIGRATIONS: false,
    ...overrides,
  } satisfies Partial<AppConfig>);

  @Module({ imports: [ConfigModule, DatabaseModule, ...imports] })
  class SuiteModule {}

  const module = await Test.createTestingModule({ imports: [SuiteModule] })
    .overrideProvider(AppConfig)
    .useValue(config)
    .setLogger({ log: () => undefined, warn: () => undefined, error: console.error, debug: () => undefined, verbose: () => undefined })
    .compile();
  await module.init();
  const db = new pg.Pool({ connectionString: database.url, max: 4 });
  return {
    module,
    get: module.get.bind(module),
    db,
    make: factories(db),
    config,
    close: async () => {
      await module.close();
      await db.end();
      await deleteRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
      await database.drop();
    },
  };
}
