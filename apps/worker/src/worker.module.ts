import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from '#libs/auth';
import { ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import { ProblemFilter } from '#libs/http';
import { JobsModule } from '#libs/jobs';
import { ObservabilityModule } from '#libs/observability';
import { WorkerHealthController } from './health.controller.js';

/**
 * The background process: the Bull processors and the scheduler, over the same libraries
 * as the API. Its HTTP port (WORKER_PORT) serves only /metrics (with a token, like the API's)
 * and /health, with the same problem+json answers as the API.
 */
@Module({
  imports: [ConfigModule, DatabaseModule, ObservabilityModule.forRoot('worker'), AuthModule, JobsModule],
  controllers: [WorkerHealthController],
  providers: [{ provide: APP_FILTER, useClass: ProblemFilter }],
})
export class WorkerModule {}
