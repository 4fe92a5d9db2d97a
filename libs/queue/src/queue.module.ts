import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { AppConfig } from '#libs/config';
import { DEFAULT_JOB_OPTIONS, QUEUE_NAME } from './jobs.js';
import { JobsProducer } from './jobs.producer.js';

/** The Bull queue on Redis (REDIS_URL, keys under REDIS_PREFIX) and its producer. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        url: config.REDIS_URL,
        prefix: config.REDIS_PREFIX,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      }),
    }),
    BullModule.registerQueue({ name: QUEUE_NAME }),
  ],
  providers: [JobsProducer],
  exports: [JobsProducer, BullModule],
})
export class QueueModule {}
