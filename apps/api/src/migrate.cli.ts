import { loadConfig } from '#libs/config';
import { dataSourceOptions, ensureDatabase, runMigrations } from '#libs/database';
import { DataSource } from 'typeorm';
import { ENTITIES } from './data-source.js';

/** `npm run migration:run`: creates the database if needed, applies pending migrations and, on Citus, lays out the schema. */
const config = loadConfig();
await ensureDatabase(config.DATABASE_URL);
const dataSource = await new DataSource({ ...dataSourceOptions(config), entities: ENTITIES }).initialize();
try {
  const applied = await runMigrations(dataSource);
  console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Schema is up to date');
} finally {
  await dataSource.destroy();
}
