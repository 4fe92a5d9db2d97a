export * from './health.controller.js';
export * from './metrics-refresh.js';
export * from './observability.module.js';
