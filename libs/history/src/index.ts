export * from './change-feed-relay.js';
export * from './change-feed.service.js';
export * from './history-partitions.service.js';
export * from './history.module.js';
export * from './history.service.js';
export * from './history.subscriber.js';
export * from './history.types.js';
export * from './membership-history.entity.js';
