export * from './jobs.module.js';
export * from './jobs.processor.js';
export * from './jobs.scheduler.js';
