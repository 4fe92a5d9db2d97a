import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig } from '#libs/config';
import { createHttpAdapter, HTTP_APP_OPTIONS } from '#libs/http';
import { Logger } from 'nestjs-pino';
import { WorkerModule } from './worker.module.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.create<NestFastifyApplication>(WorkerModule, createHttpAdapter(config), {
    ...HTTP_APP_OPTIONS,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // SIGTERM: running jobs stop after their current chunk, queues and pools close, then the process exits.
  app.enableShutdownHooks();
  await app.listen({ port: config.WORKER_PORT, host: config.HOST });
  app.get(Logger).log(`Worker started; /metrics and /health on port ${config.WORKER_PORT}`);
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
