export * from './data-source-options.js';
export * from './database.module.js';
export * from './migrate.js';
export * from './query.js';
export * from './pool.js';
export * from './errors.js';
export * from './table-statistics.js';
export * from './deployment.js';
