export * from './bucket.js';
export * from './segment.entity.js';
export * from './segment.types.js';
export * from './segments.module.js';
export * from './segments.repository.js';
export * from './segments.service.js';
export * from './slug.js';
