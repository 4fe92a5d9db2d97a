import { Module } from '@nestjs/common';
import { JobsModule } from '#libs/jobs';
import { ApiModule } from './api.module.js';

/** The API with the job processors in the same process (RUN_WORKER_IN_API, used by `npm start`). */
@Module({
  imports: [ApiModule, JobsModule],
})
export class SingleProcessModule {}
