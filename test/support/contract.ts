import { Ajv, type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import type { Client } from '#libs/client';

interface Operation {
  operationId: string;
  deprecated?: boolean;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}

export const openApiDocument = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
};

export const operations = Object.entries(openApiDocument.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), ...operation })),
);

/**
 * An OpenAPI 3.0 schema as JSON Schema for Ajv: `nullable` becomes "or null", and every
 * object schema is closed, so an undocumented field in a response is a violation too.
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const copy = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, toJsonSchema(value)]));
  if (copy.type === 'object' && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return nullable === true ? { anyOf: [copy, { type: 'null' }] } : copy;
}

/**
 * Watches a generated client: records which operations it called, and checks every
 * response's status and body against what openapi.json documents for that operation.
 */
export class ContractRecorder {
  readonly called = new Set<string>();
  readonly violations: string[] = [];
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv.addSchema({ $id: 'openapi.json', components: { schemas: toJsonSchema(openApiDocument.components.schemas) } });
  }

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
      const documented = operation.responses[String(response.status)];
      if (!documented) {
        this.violations.push(`${where}: status not documented`);
        return response;
      }
      const contentType = response.headers.get('content-type')?.split(';')[0] ?? '';
      const media = documented.content?.[contentType];
      if (documented.content && !media) this.violations.push(`${where}: content type ${contentType} not documented`);
      if (media && contentType.endsWith('json')) {
        const body = await response.clone().json();
        const validate = this.validator(JSON.stringify(media.schema));
        if (!validate(body)) this.violations.push(`${where}: ${this.ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`);
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
    const validate = this.validator(JSON.stringify(media.schema));
    if (!validate(data)) this.violations.push(`${operationId} event: ${this.ajv.errorsText(validate.errors)} in ${JSON.stringify(data)}`);
  }

  private validator(schema: string): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      const resolved = JSON.parse(schema.replaceAll('"#/components/', '"openapi.json#/components/'));
      validate = this.ajv.compile(toJsonSchema(resolved) as object);
      this.validators.set(schema, validate);
    }
    return validate;
  }
}
