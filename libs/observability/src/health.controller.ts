import { InjectQueue } from '@nestjs/bull';
import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags, ApiSchema } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { Public } from '#libs/auth';
import { withTimeout } from '#libs/common';
import { migrationsApplied, pingDatabase } from '#libs/database';
import { ApiProblems, ProblemException, RETRY_AFTER_SECONDS } from '#libs/http';
import { QUEUE_NAME } from '#libs/queue';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';

/** A dependency check gets this long before it counts as down. */
const CHECK_TIMEOUT_MS = 1000;

@ApiSchema({ name: 'Health' })
export class HealthDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status: 'ok';

  @ApiProperty({
    description: 'Each dependency checked: database, migrations, redis',
    example: { database: 'up', migrations: 'up', redis: 'up' },
    additionalProperties: { type: 'string', enum: ['up', 'down'] },
  })
  checks: Record<string, 'up' | 'down'>;
}

@ApiTags('operations')
@Controller('health')
@ApiSchema({ name: 'HealthController' })
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QUEUE_NAME) private readonly queue: Queue,
  ) {}

  @Get('live')
  @Public()
  @ApiOperation({ operationId: 'getLiveness', summary: 'Liveness', description: 'The process is up and serving HTTP.' })
  @ApiOkResponse({ type: HealthDto })
  @ApiProblems()
  live(): HealthDto {
    return { status: 'ok', checks: {} };
  }

  @Get('ready')
  @Public()
  @ApiOperation({
    operationId: 'getReadiness',
    summary: 'Readiness',
    description: 'PostgreSQL and Redis answer and every migration is applied; 503 problem+json naming what is down otherwise.',
  })
  @ApiOkResponse({ type: HealthDto })
  @ApiProblems()
  async ready(): Promise<HealthDto> {
    const [database, migrations, redis] = await Promise.all([
      check(() => pingDatabase(this.dataSource.manager)),
      check(async () => {
        if (!(await migrationsApplied(this.dataSource))) throw new Error('pending migrations');
      }),
      check(() => this.queue.client.ping()),
    ]);
    const checks = { database, migrations, redis };
    const down = Object.entries(checks).filter(([, status]) => status === 'down');
    if (down.length > 0) {
      throw new ProblemException({
        type: 'not-ready',
        title: 'Not ready',
        status: 503,
        detail: `Down: ${down.map(([name]) => name).join(', ')}`,
        errors: down.map(([name]) => ({ field: name, message: 'down' })),
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      });
    }
    return { status: 'ok', checks };
  }
}

async function check(probe: () => Promise<unknown>): Promise<'up' | 'down'> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS, 'The check');
    return 'up';
  } catch {
    return 'down';
  }
}
