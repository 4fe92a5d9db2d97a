export * from './user.entity.js';
export * from './user.js';
export * from './users.module.js';
export * from './users.service.js';
