import { Module } from '@nestjs/common';
import { ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import { JobsModule } from '#libs/jobs';
import { ObservabilityModule } from '#libs/observability';

/**
 * The background process: the Bull processors and the scheduler, over the same libraries
 * as the API. Its HTTP port (WORKER_PORT) serves only /metrics and /health.
 */
@Module({
  imports: [ConfigModule, DatabaseModule, ObservabilityModule.forRoot('worker'), JobsModule],
})
export class WorkerModule {}
