import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SegmentsModule } from '#libs/segments';
import { UsersModule } from '#libs/users';
import { MembershipEntity } from './membership.entity.js';
import { MembershipsService } from './memberships.service.js';

/**
 * Memberships join users and segments, so they are their own module: it depends on both,
 * while users and segments know nothing of each other or of memberships.
 */
@Module({
  imports: [TypeOrmModule.forFeature([MembershipEntity]), UsersModule, SegmentsModule],
  providers: [MembershipsService],
  exports: [MembershipsService],
})
export class MembershipsModule {}
