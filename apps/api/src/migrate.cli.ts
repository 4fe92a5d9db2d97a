import { loadConfig } from '#libs/config';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';
import { ensureDatabase, runMigrations } from './migrate.js';

/** `npm run migration:run`: creates the database if needed and applies pending migrations. */
const config = loadConfig();
await ensureDatabase(config.DATABASE_URL);
const dataSource = await new DataSource(dataSourceOptions(config)).initialize();
try {
  const applied = await runMigrations(dataSource);
  console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Schema is up to date');
} finally {
  await dataSource.destroy();
}
