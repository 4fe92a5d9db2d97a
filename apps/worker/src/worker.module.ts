import { Module } from '@nestjs/common';
import { ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import { MembershipsModule } from '#libs/memberships';

/** The background process: Bull processors over the same services as the API. */
@Module({
  imports: [ConfigModule, DatabaseModule, MembershipsModule],
})
export class WorkerModule {}
