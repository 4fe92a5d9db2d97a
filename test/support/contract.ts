import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import type { Client } from '#libs/client';

interface Operation {
  operationId: string;
  deprecated?: boolean;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
}

export const openApiDocument = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as OpenApiDocument;

export const operations = Object.entries(openApiDocument.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), ...operation })),
);

/** Keywords whose values are data, not schemas. */
const DATA_KEYWORDS = new Set(['example', 'examples', 'enum', 'const', 'default']);

/**
 * An OpenAPI schema as JSON Schema, read as strictly as strict tools (Stoplight Prism, generators
 * for typed languages) read it. An OpenAPI 3.1 schema is JSON Schema already: null is allowed only
 * by `type: [..., "null"]` or a `{type: "null"}` alternative, and `nullable` means nothing. In a 3.0
 * document, `nullable: true` adds null to the `type` beside it and does nothing else (OpenAPI
 * 3.0.3): beside `allOf`, `oneOf` or `anyOf` of a `$ref` the members still refuse null, and an
 * `enum` without null still refuses it. Every object schema is closed, so an undocumented field
 * in a response is a violation too.
 */
function toJsonSchema(schema: unknown, openApi30: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((item) => toJsonSchema(item, openApi30));
  if (!schema || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Record<string, unknown>;
  const copy = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [
      key,
      DATA_KEYWORDS.has(key)
        ? value
        : key === 'properties'
          ? eachSchema(value as Record<string, unknown>, openApi30)
          : toJsonSchema(value, openApi30),
    ]),
  );
  if (copy.type === 'object' && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  if (openApi30 && nullable === true && typeof copy.type === 'string') copy.type = [copy.type, 'null'];
  return copy;
}

function eachSchema(schemas: Record<string, unknown>, openApi30: boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, toJsonSchema(schema, openApi30)]));
}

/** Checks values against the schemas of an OpenAPI document (their `$ref`s point into its components), read strictly. */
export class SchemaChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly openApi30: boolean;

  constructor(document: OpenApiDocument) {
    this.openApi30 = document.openapi.startsWith('3.0.');
    this.ajv.addSchema({ $id: 'openapi.json', components: { schemas: eachSchema(document.components.schemas, this.openApi30) } });
  }

  /** What `value` violates of `schema`, or undefined when it is valid. */
  check(schema: object, value: unknown): string | undefined {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      const resolved = JSON.parse(key.replaceAll('"#/components/', '"openapi.json#/components/'));
      validate = this.ajv.compile(toJsonSchema(resolved, this.openApi30) as object);
      this.validators.set(key, validate);
    }
    return validate(value) ? undefined : this.ajv.errorsText(validate.errors);
  }
}

/**
 * Watches a generated client: records which operations it called, and checks every
 * response's status and body against what openapi.json documents for that operation.
 */
export class ContractRecorder {
  readonly called = new Set<string>();
  readonly violations: string[] = [];
  private readonly checker = new SchemaChecker(openApiDocument);

  attach(client: Client): void {
    client.interceptors.response.use(async (response, request, options) => {
      const template = options.url;
      const operation = openApiDocument.paths[template]?.[request.method.toLowerCase()];
      const where = `${request.method} ${template} → ${response.status}`;
      if (!operation) {
        this.violations.push(`${where}: not in the document`);
        return response;
      }
      this.called.add(operation.operationId);
      for (const violation of prismViolations(response)) this.violations.push(`${where}: Prism: ${violation}`);
      const documented = operation.responses[String(response.status)];
      if (!documented) {
        this.violations.push(`${where}: status not documented`);
        return response;
      }
      const contentType = response.headers.get('content-type')?.split(';')[0] ?? '';
      const media = documented.content?.[contentType];
      if (documented.content && !media) this.violations.push(`${where}: content type ${contentType} not documented`);
      if (media && contentType.endsWith('json')) {
        const body: unknown = await response.clone().json();
        const violation = this.checker.check(media.schema, body);
        if (violation) this.violations.push(`${where}: ${violation} in ${JSON.stringify(body)}`);
      }
      return response;
    });
  }

  /** Records a Server-Sent Event of `operationId` (the client's SSE requests pass no response interceptor) and checks its data. */
  event(operationId: string, data: unknown): void {
    const operation = operations.find((candidate) => candidate.operationId === operationId);
    const media = operation?.responses['200']?.content?.['text/event-stream'];
    if (!media) {
      this.violations.push(`${operationId}: no documented event stream`);
      return;
    }
    this.called.add(operationId);
    const violation = this.checker.check(media.schema, data);
    if (violation) this.violations.push(`${operationId} event: ${violation} in ${JSON.stringify(data)}`);
  }
}

/**
 * What Stoplight Prism, as a validating proxy in front of the service (test/support/prism.ts),
 * found wrong with a response. Request violations are left out: the suite sends invalid
 * requests on purpose.
 */
function prismViolations(response: Response): string[] {
  const header = response.headers.get('sl-violations');
  if (!header) return [];
  return (JSON.parse(header) as { location: string[]; message: string }[])
    .filter((violation) => violation.location[0] === 'response')
    .map((violation) => `${violation.location.join('.')}: ${violation.message}`);
}
