export * from './import-file.js';
export * from './imports.module.js';
export * from './imports.repository.js';
export * from './imports.service.js';
export * from './imports.types.js';
