import { Module } from '@nestjs/common';
import { HistoryPartitionsService } from './history-partitions.service.js';
import { HistoryRepository } from './history.repository.js';
import { HistoryService } from './history.service.js';
import { HistorySubscriber, membershipChangesProvider } from './history.subscriber.js';

@Module({
  providers: [HistorySubscriber, HistoryService, HistoryPartitionsService, HistoryRepository, membershipChangesProvider],
  exports: [HistorySubscriber, HistoryService, HistoryPartitionsService, HistoryRepository],
})
export class HistoryModule {}
