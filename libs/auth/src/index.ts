export * from './api-token.entity.js';
export * from './api-token.guard.js';
export * from './auth.decorators.js';
export * from './auth.module.js';
export * from './scopes.js';
export * from './token-secret.js';
export * from './tokens.service.js';
export * from './tokens.types.js';
