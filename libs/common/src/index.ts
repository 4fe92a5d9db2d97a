export * from './caller.js';
export * from './cursor.js';
export * from './errors.js';
export * from './timeout.js';
export * from './instant.js';
