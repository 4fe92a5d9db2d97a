import { dataSourceOptions, runMigrations } from '#libs/database';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { TestProject } from 'vitest/node';
import { randomSuffix, serverUrl } from './database.js';
import { findTestServices } from './services-discovery.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    redisUrl: string;
  }
}

/**
 * Finds PostgreSQL and Redis for the run (see findTestServices),
 * and builds a migrated template database that every suite copies into its own database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await findTestServices();
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
