export * from './bucket.js';
export * from './segment.entity.js';
export * from './segments.module.js';
export * from './segments.service.js';
export * from './slug.js';
