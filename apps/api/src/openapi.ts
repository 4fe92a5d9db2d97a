import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { ReferenceObject, RequestBodyObject, SchemaObject } from '@nestjs/swagger';
import { BEARER_SCHEME, SCOPE_EXTENSION, SCOPES, type Scope } from '#libs/auth';
import { AppConfig } from '#libs/config';
import { ApiModule } from './api.module.js';
import { createHttpAdapter, HTTP_APP_OPTIONS } from '#libs/http';

/**
 * The API's version, semver: a breaking change of any operation is a new major, an addition a new
 * minor. Written only here: it is the document's `info.version`, which `npm run client` copies into
 * the client package (@segmentation/client).
 */
const API_VERSION = '1.0.0';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Segmentation service')
    .setDescription(
      'Segments (experiments, discounts, feature tests) and the users in them: memberships with TTL, ' +
        'percent rollouts, history and monthly CSV reports. Errors are RFC 9457 `application/problem+json`.',
    )
    .setVersion(API_VERSION)
    // 3.1: a nullable value is JSON Schema's `null` type, which strict tools honour beside a $ref too.
    // In 3.0, `nullable` beside `allOf: [$ref]` reads as never null to them (OpenAPI 3.0.3).
    .setOpenAPIVersion('3.1.0')
    .addTag('segments', 'Segment catalogue')
    .addTag('users', 'Users and their segments')
    .addTag('history', 'Membership history of a user')
    .addTag('reports', 'Monthly CSV reports of membership history')
    .addTag('imports', 'CSV imports of segment members')
    .addTag('changes', 'The change feed: every membership change, in order, resumable')
    .addTag('tokens', 'API tokens')
    .addTag('operations', 'Health of the service')
    .addTag('compatibility', 'Routes of the original service, kept working (deprecated)')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'seg_…',
        description: 'An API token (`POST /tokens`, `npm run token`, or AUTH_BOOTSTRAP_TOKEN). Each operation names the scope it needs.',
      },
      BEARER_SCHEME,
    )
    .build();
  return withScopeDescriptions(withRequestExamples(SwaggerModule.createDocument(app, config)));
}

/** Says in every protected operation's description which scope it needs (from its `x-required-scope`). */
function withScopeDescriptions(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as { description?: string; [SCOPE_EXTENSION]?: Scope }[]) {
      const scope = operation?.[SCOPE_EXTENSION];
      if (!scope) continue;
      const including = SCOPES.slice(SCOPES.indexOf(scope) + 1);
      const also = including.length ? ` (or ${including.map((name) => `\`${name}\``).join(', ')})` : '';
      operation.description = `${operation.description ?? ''}\n\nRequires a token with scope \`${scope}\`${also}.`.trim();
    }
  }
  return document;
}

/**
 * Gives every JSON request body an example, assembled from the examples its schema's
 * properties document, so the two cannot drift apart.
 */
function withRequestExamples(document: OpenAPIObject): OpenAPIObject {
  const schemas = document.components?.schemas ?? {};
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as { requestBody?: RequestBodyObject }[]) {
      const media = operation?.requestBody?.content?.['application/json'];
      const ref = (media?.schema as ReferenceObject | undefined)?.$ref;
      if (!media || !ref) continue;
      const schema = schemas[ref.split('/').at(-1)!] as SchemaObject;
      media.example = Object.fromEntries(
        Object.entries(schema.properties ?? {})
          .filter(([, property]) => (property as SchemaObject).example !== undefined)
          .map(([name, property]) => [name, (property as SchemaObject).example]),
      );
    }
  }
  return document;
}

/** The committed form of the document: stable key order as built, two-space indent, final newline. */
export function serializeOpenApiDocument(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * The document as `npm run openapi` writes it. Preview mode resolves the module graph
 * without creating providers, so no database, Redis or port is needed.
 */
export async function generateOpenApiDocument(): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule, createHttpAdapter(new AppConfig()), {
    ...HTTP_APP_OPTIONS,
    preview: true,
    logger: false,
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
