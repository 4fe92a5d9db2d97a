import { Module } from '@nestjs/common';
import { ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import { JobsModule } from '#libs/jobs';

/** The background process: the Bull processors and the scheduler, over the same libraries as the API. */
@Module({
  imports: [ConfigModule, DatabaseModule, JobsModule],
})
export class WorkerModule {}
