export * from './api-problems.decorator.js';
export * from './cursor.js';
export * from './problem.dto.js';
export * from './problem.js';
export * from './timeout.js';
