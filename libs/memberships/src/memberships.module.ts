import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HistoryModule } from '#libs/history';
import { SegmentsModule } from '#libs/segments';
import { UsersModule } from '#libs/users';
import { MembershipExpiryService } from './membership-expiry.service.js';
import { Membership, SegmentOptOut } from './membership.entity.js';
import { MembershipReadsService } from './membership-reads.service.js';
import { MembershipRegistrationService } from './membership-registration.service.js';
import { MembershipRolloutService } from './membership-rollout.service.js';
import { MembershipWritesService, writeBatchSizeProvider } from './membership-writes.service.js';
import { MembershipsRepository } from './memberships.repository.js';
import { SegmentPurgeService } from './segment-purge.service.js';

/**
 * Memberships join users and segments, so they are their own module: it depends on both,
 * while users and segments know nothing of each other or of memberships. It imports the
 * history, so every process that can change a membership also records it.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Membership, SegmentOptOut]), UsersModule, SegmentsModule, HistoryModule],
  providers: [
    MembershipWritesService,
    MembershipReadsService,
    MembershipRegistrationService,
    MembershipsRepository,
    MembershipRolloutService,
    MembershipExpiryService,
    SegmentPurgeService,
    writeBatchSizeProvider,
  ],
  exports: [
    MembershipWritesService,
    MembershipReadsService,
    MembershipRegistrationService,
    MembershipRolloutService,
    MembershipExpiryService,
    SegmentPurgeService,
  ],
})
export class MembershipsModule {}
