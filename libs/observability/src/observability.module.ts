import { Global, Module, type DynamicModule } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { AppConfig } from '#libs/config';
import { QueueModule } from '#libs/queue';
import { LoggerModule } from 'nestjs-pino';
import { DatabaseMetrics, databaseMetricProviders } from './database-metrics.js';
import { HttpMetrics, httpMetricProviders } from './http-metrics.js';
import { loggerParams } from './logging.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsRefresh } from './metrics-refresh.js';
import { Readiness } from './readiness.js';
import { ShutdownLog } from './shutdown-log.js';

/**
 * Logs, metrics (/metrics) and readiness (served by each app's health controller) of one
 * process; every metric carries a `service` label (api or worker).
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(service: 'api' | 'worker'): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [
        LoggerModule.forRootAsync({ inject: [AppConfig], useFactory: (config: AppConfig) => loggerParams(config, service) }),
        PrometheusModule.register({
          path: '/metrics',
          controller: MetricsController,
          defaultLabels: { service },
          defaultMetrics: { enabled: true },
        }),
        QueueModule,
      ],
      providers: [MetricsRefresh, Readiness, HttpMetrics, DatabaseMetrics, ShutdownLog, ...httpMetricProviders, ...databaseMetricProviders],
      exports: [MetricsRefresh, Readiness],
    };
  }
}
