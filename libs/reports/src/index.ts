export * from './report-links.js';
export * from './reports.module.js';
export * from './reports.service.js';
