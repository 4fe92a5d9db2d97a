export * from './jobs.js';
export * from './jobs.producer.js';
export * from './queue.module.js';
