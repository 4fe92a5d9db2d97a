import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import { MetricsRefresh } from './metrics-refresh.js';
import { RequireScope } from '#libs/http';

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
