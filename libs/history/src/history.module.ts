import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HistoryEntryEntity } from './history-entry.entity.js';
import { HistoryPartitionsService } from './history-partitions.service.js';
import { HistoryService } from './history.service.js';
import { HistorySubscriber } from './history.subscriber.js';

@Module({
  imports: [TypeOrmModule.forFeature([HistoryEntryEntity])],
  providers: [HistorySubscriber, HistoryService, HistoryPartitionsService],
  exports: [HistorySubscriber, HistoryService, HistoryPartitionsService],
})
export class HistoryModule {}
