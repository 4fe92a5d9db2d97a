export * from './cursor.js';
export * from './problem.js';
