import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate, randomSuffix } from './database.js';
import { serverUrl } from './private-servers.js';
import { findTestServices } from './services-discovery.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    redisUrl: string;
    /** Server URLs of a Citus cluster's nodes, the coordinator first (npm run test:citus); empty on one PostgreSQL. */
    citusNodes: string[];
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
  await migrate(serverUrl(services.databaseUrl, template));

  project.provide('databaseServerUrl', services.databaseUrl);
  project.provide('templateDatabase', template);
  project.provide('redisUrl', services.redisUrl);
  project.provide('citusNodes', []);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end();
    await services.stop();
  };
}
