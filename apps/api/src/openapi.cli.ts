import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '#libs/config';
import { writeFileSync } from 'node:fs';
import { ApiModule } from './api.module.js';
import { createHttpAdapter } from './app.js';
import { buildOpenApiDocument, serializeOpenApiDocument } from './openapi.js';

/**
 * `npm run openapi`: writes openapi.json from the code. Preview mode resolves the module
 * graph without creating providers, so no database, Redis or port is needed.
 */
const app = await NestFactory.create<NestFastifyApplication>(ApiModule, createHttpAdapter(loadConfig()), { preview: true, logger: false });
const target = process.argv[2] ?? 'openapi.json';
writeFileSync(target, serializeOpenApiDocument(buildOpenApiDocument(app)));
await app.close();
console.log(`Wrote ${target}`);
