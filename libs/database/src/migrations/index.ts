import { InitialSchema1764200000000 } from './1764200000000-initial-schema.js';
import { MembershipHistory1764300000000 } from './1764300000000-membership-history.js';
import { RolloutsAndPurge1764400000000 } from './1764400000000-rollouts-and-purge.js';
import { ApiTokensAndAudit1764500000000 } from './1764500000000-api-tokens-and-audit.js';
import { HostileInput1764600000000 } from './1764600000000-hostile-input.js';
import { Imports1764700000000 } from './1764700000000-imports.js';
import { ChangeFeed1764800000000 } from './1764800000000-change-feed.js';
import { MembershipsWithoutForeignKeys1764900000000 } from './1764900000000-memberships-without-foreign-keys.js';
import { ChangeFeedInCommitOrder1765000000000 } from './1765000000000-change-feed-in-commit-order.js';
import { MembershipsCoveringKey1765100000000 } from './1765100000000-memberships-covering-key.js';
import { ChangeFeedRelay1765200000000 } from './1765200000000-change-feed-relay.js';
import { UserLocksWithoutWaiting1765300000000 } from './1765300000000-user-locks-without-waiting.js';
import { ImportRowsKey1765400000000 } from './1765400000000-import-rows-key.js';
import { ImportsWithoutSegmentKey1765500000000 } from './1765500000000-imports-without-segment-key.js';

/** Every migration, oldest first. Listed explicitly so the same list works from source and from dist. */
export const migrations = [
  InitialSchema1764200000000,
  MembershipHistory1764300000000,
  RolloutsAndPurge1764400000000,
  ApiTokensAndAudit1764500000000,
  HostileInput1764600000000,
  Imports1764700000000,
  ChangeFeed1764800000000,
  MembershipsWithoutForeignKeys1764900000000,
  ChangeFeedInCommitOrder1765000000000,
  MembershipsCoveringKey1765100000000,
  ChangeFeedRelay1765200000000,
  UserLocksWithoutWaiting1765300000000,
  ImportRowsKey1765400000000,
  ImportsWithoutSegmentKey1765500000000,
];
