export * from './membership.entity.js';
export * from './memberships.module.js';
export * from './memberships.service.js';
export * from './memberships.types.js';
