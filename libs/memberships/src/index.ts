export * from './membership-expiry.service.js';
export * from './membership-rollout.service.js';
export * from './membership.entity.js';
export * from './membership.rules.js';
export * from './memberships.module.js';
export * from './memberships.service.js';
export * from './memberships.types.js';
export * from './segment-purge.service.js';
