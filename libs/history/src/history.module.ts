import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChangeFeedRelay } from './change-feed-relay.js';
import { ChangeFeedService, feedMetricProviders } from './change-feed.service.js';
import { HistoryPartitionsService } from './history-partitions.service.js';
import { HistoryRepository } from './history.repository.js';
import { ChangeFeedRelayState, MembershipHistoryEntry } from './membership-history.entity.js';
import { HistoryService } from './history.service.js';
import { HistorySubscriber, membershipChangesProvider } from './history.subscriber.js';

@Module({
  imports: [TypeOrmModule.forFeature([MembershipHistoryEntry, ChangeFeedRelayState])],
  providers: [
    HistorySubscriber,
    HistoryService,
    HistoryPartitionsService,
    HistoryRepository,
    ChangeFeedService,
    ChangeFeedRelay,
    membershipChangesProvider,
    ...feedMetricProviders,
  ],
  exports: [HistorySubscriber, HistoryService, HistoryPartitionsService, ChangeFeedService, ChangeFeedRelay],
})
export class HistoryModule {}
