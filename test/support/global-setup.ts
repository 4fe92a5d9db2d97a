import { dataSourceOptions, runMigrations } from '#libs/database';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { TestProject } from 'vitest/node';
import { randomSuffix, serverUrl } from './database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    redisUrl: string;
  }
}

interface Services {
  databaseUrl: string;
  redisUrl: string;
  stop: () => Promise<void>;
}

/**
 * Finds PostgreSQL and Redis for the run (DATABASE_URL/REDIS_URL, else testcontainers),
 * and builds a migrated template database that every suite copies into its own database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await findServices();
  const template = `seg_template_${randomSuffix()}`;
  const admin = new pg.Client({ connectionString: services.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const dataSource = await new DataSource(
    dataSourceOptions({ DATABASE_URL: serverUrl(services.databaseUrl, template), DATABASE_POOL_SIZE: 2 }),
  ).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();

  project.provide('databaseServerUrl', services.databaseUrl);
  project.provide('templateDatabase', template);
  project.provide('redisUrl', services.redisUrl);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end();
    await services.stop();
  };
}

async function findServices(): Promise<Services> {
  const { DATABASE_URL, REDIS_URL } = process.env;
  if (DATABASE_URL && REDIS_URL) return { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, stop: async () => undefined };
  try {
    // Imported only when needed: without a container runtime, testcontainers is of no use.
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const { RedisContainer } = await import('@testcontainers/redis');
    const [postgres, redis] = await Promise.all([
      new PostgreSqlContainer('postgres:15-alpine').start(),
      new RedisContainer('redis:7-alpine').start(),
    ]);
    return {
      databaseUrl: DATABASE_URL ?? postgres.getConnectionUri(),
      redisUrl: REDIS_URL ?? redis.getConnectionUrl(),
      stop: async () => {
        await Promise.all([postgres.stop(), redis.stop()]);
      },
    };
  } catch (error) {
    throw new Error(
      'The tests need a real PostgreSQL and Redis. Either set DATABASE_URL and REDIS_URL ' +
        '(e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm test; ' +
        'the tests create and drop databases of their own on that server and use their own Redis key prefix), ' +
        `or run Docker so that testcontainers can start them (${(error as Error).message}).`,
      { cause: error },
    );
  }
}
