import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuthModule } from '#libs/auth';
import { ConfigModule } from '#libs/config';
import { DatabaseModule } from '#libs/database';
import { BodylessRoutesGuard, createValidationPipe, ProblemFilter } from '#libs/http';
import { HistoryModule } from '#libs/history';
import { ImportsModule } from '#libs/imports';
import { MembershipsModule } from '#libs/memberships';
import { ObservabilityModule } from '#libs/observability';
import { ReportsModule } from '#libs/reports';
import { SegmentsModule } from '#libs/segments';
import { ChangesController } from './changes/changes.controller.js';
import { CompatController } from './compat/compat.controller.js';
import { HealthController } from './health/health.controller.js';
import { HistoryController } from './history/history.controller.js';
import { ReportsController } from './reports/reports.controller.js';
import { ImportsController } from './imports/imports.controller.js';
import { TokensController } from './tokens/tokens.controller.js';
import { SegmentsController } from './segments/segments.controller.js';
import { UsersController } from './users/users.controller.js';

@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    ObservabilityModule.forRoot('api'),
    AuthModule,
    SegmentsModule,
    MembershipsModule,
    HistoryModule,
    ReportsModule,
    ImportsModule,
  ],
  controllers: [
    SegmentsController,
    UsersController,
    HistoryController,
    ReportsController,
    ImportsController,
    ChangesController,
    TokensController,
    CompatController,
    HealthController,
  ],
  providers: [
    { provide: APP_FILTER, useClass: ProblemFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_GUARD, useClass: BodylessRoutesGuard },
  ],
})
export class ApiModule {}
