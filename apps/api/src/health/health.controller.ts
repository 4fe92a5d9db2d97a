import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiSchema, ApiTags } from '@nestjs/swagger';
import { Public } from '#libs/auth';
import { ApiProblems } from '#libs/http';
import { Readiness } from '#libs/observability';

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

/** /health/live and /health/ready of the API; a dependency down is a 503 `not-ready` problem naming each (NotReadyError). */
@ApiTags('operations')
@Controller('health')
@ApiSchema({ name: 'HealthController' })
export class HealthController {
  constructor(private readonly readiness: Readiness) {}

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
    return { status: 'ok', checks: await this.readiness.assertReady() };
  }
}
