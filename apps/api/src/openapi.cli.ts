import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { generateOpenApiDocument, serializeOpenApiDocument } from './openapi.js';

/** `npm run openapi [file]`: writes the OpenAPI document (default openapi.json) from the code. */
const target = process.argv[2] ?? 'openapi.json';
writeFileSync(target, serializeOpenApiDocument(await generateOpenApiDocument()));
console.log(`Wrote ${target}`);
