import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '#libs/auth';
import type { Caller } from '#libs/common';
import { AcceptsCsvBody, ApiProblems, CsvBodyPipe, RequireScope } from '#libs/http';
import { ImportsService } from '#libs/imports';
import type { Readable } from 'node:stream';
import { ApiSlugParam, ParseSlugPipe, ParseUuidPipe } from '../http/params.js';
import { ImportDto, ImportQueryDto } from './dto/import.dto.js';

@ApiTags('imports')
@Controller()
export class ImportsController {
  constructor(private readonly imports: ImportsService) {}

  @Post('segments/:slug/imports')
  @RequireScope('admin')
  @HttpCode(202)
  @AcceptsCsvBody()
  @ApiOperation({
    operationId: 'importSegmentMembers',
    summary: "Import a segment's members from a CSV file",
    description:
      'A `text/csv` body of user ids, one per line (an optional `user_id` header), up to 10 000 000 lines, streamed in. ' +
      'Every line is checked first: a file with any bad line changes nothing (`failed`, with its first bad lines). ' +
      'A valid file is then applied in the background in chunks, each with its history; follow it with GET /imports/{id}.',
  })
  @ApiConsumes('text/csv')
  @ApiBody({ required: true, schema: { type: 'string', example: 'user_id\n1000\n1002\n' }, description: 'One user id per line' })
  @ApiAcceptedResponse({ type: ImportDto })
  @ApiProblems(404, 413, 415)
  @ApiSlugParam()
  async start(
    @Param('slug', ParseSlugPipe) slug: string,
    @Query() query: ImportQueryDto,
    @Body(CsvBodyPipe) file: Readable,
    @CurrentCaller() caller: Caller,
  ): Promise<ImportDto> {
    return ImportDto.from(await this.imports.start(slug, query.mode, query.ttl_seconds, file, caller));
  }

  @Get('imports/:id')
  @RequireScope('admin')
  @ApiOperation({ operationId: 'getImport', summary: 'Get an import', description: 'State and progress of a CSV import.' })
  @ApiParam({ name: 'id', schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ type: ImportDto })
  @ApiProblems(404)
  async get(@Param('id', ParseUuidPipe) id: string): Promise<ImportDto> {
    return ImportDto.from(await this.imports.get(id));
  }
}
