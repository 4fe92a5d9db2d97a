import { dataSourceOptions } from '#libs/database';
import { Column, DataSource, Entity, PrimaryColumn, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../apps/api/src/data-source.js';
import { createSuiteDatabase, migrate, type SuiteDatabase } from './support/database.js';

/** A table no migration creates: what the schema builder must find missing. */
@Entity('schema_probe')
class SchemaProbe {
  @PrimaryColumn({ type: 'integer' })
  id: number;

  @Column({ type: 'varchar', length: 10 })
  name: string;
}

/** The SQL TypeORM's schema builder would run to make the database match `entities`. */
async function pendingChanges(url: string, entities: NonNullable<DataSourceOptions['entities']>): Promise<string[]> {
  const dataSource = await new DataSource({ ...dataSourceOptions({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }), entities }).initialize();
  try {
    return (await dataSource.driver.createSchemaBuilder().log()).upQueries.map((query) => query.query);
  } finally {
    await dataSource.destroy();
  }
}

/**
 * The entities describe the schema the migrations build, exactly: TypeORM's schema builder,
 * asked to make a freshly migrated database match them, has nothing to do. A schema change is
 * an entity change plus `npm run migration:generate`, which writes what this would run.
 */
describe('entities and migrations', () => {
  let database: SuiteDatabase;

  beforeAll(async () => {
    database = await createSuiteDatabase({ empty: true });
    await migrate(database.url);
  });
  afterAll(async () => database?.drop());

  it('match: the migrated schema needs no change to fit the entities', async () => {
    expect(await pendingChanges(database.url, ENTITIES)).toEqual([]);
  });

  it('match in what the schema builder does not compare: the predicates of partial indexes', async () => {
    const dataSource = await new DataSource({
      ...dataSourceOptions({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: 1 }),
      entities: ENTITIES,
    }).initialize();
    try {
      const declared = dataSource.entityMetadatas.flatMap((entity) =>
        entity.indices.filter((index) => index.where).map((index) => [index.name, index.where]),
      );
      const rows: { name: string; predicate: string }[] = await dataSource.query(
        `SELECT c.relname AS name, pg_get_expr(i.indpred, i.indrelid) AS predicate
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY($1)`,
        [declared.map(([name]) => name)],
      );
      expect(declared.length).toBeGreaterThan(0);
      expect(Object.fromEntries(rows.map((row) => [row.name, row.predicate]))).toEqual(Object.fromEntries(declared));
    } finally {
      await dataSource.destroy();
    }
  });

  it('would build what an entity adds (the path of migration:generate)', async () => {
    const changes = await pendingChanges(database.url, [...ENTITIES, SchemaProbe]);
    expect(changes).toEqual([
      expect.stringMatching(/^CREATE TABLE "schema_probe" \("id" integer NOT NULL, "name" character varying\(10\) NOT NULL/),
    ]);
  });
});
