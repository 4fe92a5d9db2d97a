import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '#libs/config';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module.js';
import { createHttpAdapter, HTTP_APP_OPTIONS } from '#libs/http';
import { buildOpenApiDocument } from './openapi.js';
import { SingleProcessModule } from './single-process.module.js';

/** Everything an API application needs beyond its module: used by main.ts and by the tests. */
export function configureApp(app: NestFastifyApplication): NestFastifyApplication {
  app.enableShutdownHooks();
  SwaggerModule.setup('swagger', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'swagger/json',
    yamlDocumentUrl: 'swagger/yaml',
  });
  return app;
}

export async function createApiApp(config: AppConfig): Promise<NestFastifyApplication> {
  const root = config.RUN_WORKER_IN_API ? SingleProcessModule : ApiModule;
  const app = await NestFactory.create<NestFastifyApplication>(root, createHttpAdapter(config), {
    ...HTTP_APP_OPTIONS,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  return configureApp(app);
}
