import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { AppConfig } from '#libs/config';
import { defaultJobOptions, QUEUE_NAME, QUEUE_SETTINGS, redisRetryDelay } from './jobs.js';
import { JobsProducer } from './jobs.producer.js';

/** The Bull queue on Redis (REDIS_URL, keys under REDIS_PREFIX) and its producer. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        url: config.REDIS_URL,
        prefix: config.REDIS_PREFIX,
        defaultJobOptions: defaultJobOptions(config),
        redis: { retryStrategy: redisRetryDelay },
        settings: QUEUE_SETTINGS,
      }),
    }),
    BullModule.registerQueue({ name: QUEUE_NAME }),
  ],
  providers: [JobsProducer],
  exports: [JobsProducer, BullModule],
})
export class QueueModule {}
