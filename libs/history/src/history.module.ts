import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HistoryEntryEntity } from './history-entry.entity.js';
import { HistoryPartitionsService } from './history-partitions.service.js';
import { HistoryService } from './history.service.js';
import { HistorySubscriber, membershipChangesProvider } from './history.subscriber.js';

@Module({
  imports: [TypeOrmModule.forFeature([HistoryEntryEntity])],
  providers: [HistorySubscriber, HistoryService, HistoryPartitionsService, membershipChangesProvider],
  exports: [HistorySubscriber, HistoryService, HistoryPartitionsService],
})
export class HistoryModule {}
