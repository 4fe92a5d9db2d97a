export * from './api-problems.decorator.js';
export * from './http-adapter.js';
export * from './problem.dto.js';
export * from './problem.filter.js';
export * from './problem.js';
export * from './slug-list-names.interceptor.js';
export * from './validation.js';
