import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '#libs/config';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';
import { ensureDatabase, runMigrations } from './migrate.js';
import { Deployment } from './deployment.js';
import { TableStatistics } from './table-statistics.js';

const UNDEFINED_DATABASE = '3D000';

/**
 * Opens the data source; with `migrationsRun` (RUN_MIGRATIONS) it is migrated, under an
 * advisory lock, before any provider receives it, so nothing queries an outdated schema.
 */
async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const migrate = options.migrationsRun === true;
  const dataSource = new DataSource({ ...options, migrationsRun: false });
  try {
    await dataSource.initialize();
  } catch (error) {
    if ((error as { code?: string }).code !== UNDEFINED_DATABASE || !migrate) throw error;
    await ensureDatabase((options as { url: string }).url);
    await dataSource.initialize();
  }
  if (migrate) await runMigrations(dataSource);
  return dataSource;
}

/** The data source (migrated on start with RUN_MIGRATIONS), table statistics and the deployment, for every module of the process. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config),
        migrationsRun: config.RUN_MIGRATIONS,
        autoLoadEntities: true,
      }),
      dataSourceFactory: (options) => openDataSource(options!),
    }),
  ],
  providers: [TableStatistics, Deployment],
  exports: [TableStatistics, Deployment],
})
export class DatabaseModule {}
