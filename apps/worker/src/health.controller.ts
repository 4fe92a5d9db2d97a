import { Controller, Get } from '@nestjs/common';
import { Public } from '#libs/auth';
import { Readiness } from '#libs/observability';

/**
 * /health/live and /health/ready of the worker, answered like the API's (documented there): a
 * dependency down is a 503 `not-ready` problem naming each.
 */
@Controller('health')
export class WorkerHealthController {
  constructor(private readonly readiness: Readiness) {}

  @Get('live')
  @Public()
  live(): { status: 'ok'; checks: Record<string, 'up' | 'down'> } {
    return { status: 'ok', checks: {} };
  }

  @Get('ready')
  @Public()
  async ready(): Promise<{ status: 'ok'; checks: Record<string, 'up' | 'down'> }> {
    return { status: 'ok', checks: await this.readiness.assertReady() };
  }
}
