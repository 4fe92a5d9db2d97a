export * from './import-file.js';
export * from './import.entity.js';
export * from './imports.module.js';
export * from './imports.service.js';
