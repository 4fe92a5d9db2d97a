export * from './metrics-refresh.js';
export * from './observability.module.js';
export * from './readiness.js';
