import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import { RequireScope } from '#libs/auth';
import { MetricsRefresh } from './metrics-refresh.js';

/** Prometheus scrape endpoint: refreshes the state gauges, then renders the registry. */
@ApiExcludeController()
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly refresh: MetricsRefresh) {
    super();
  }

  @Get()
  @RequireScope('read')
  override async index(@Res({ passthrough: true }) response: unknown): Promise<string> {
    await this.refresh.refreshAll();
    return super.index(response);
  }
}
