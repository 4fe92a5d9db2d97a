import { ApiToken } from '#libs/auth';
import { loadConfig } from '#libs/config';
import { dataSourceOptions } from '#libs/database';
import { ChangeFeedRelayState, MembershipHistoryEntry } from '#libs/history';
import { Import, ImportRow } from '#libs/imports';
import { Membership, SegmentOptOut } from '#libs/memberships';
import { Segment } from '#libs/segments';
import { User } from '#libs/users';
import { DataSource } from 'typeorm';

/** Every table's entity: what the migrations must build (a test holds them to it). */
export const ENTITIES = [
  User,
  Segment,
  Membership,
  SegmentOptOut,
  MembershipHistoryEntry,
  ChangeFeedRelayState,
  ApiToken,
  Import,
  ImportRow,
];

/**
 * The data source of TypeORM's CLI, from the environment (DATABASE_URL): a schema change is an
 * entity change, then `npm run migration:generate -- libs/database/src/migrations/<Name>`
 * writes the migration that makes the database match (see README, Changing the schema).
 */
export default new DataSource({ ...dataSourceOptions(loadConfig()), entities: ENTITIES });
