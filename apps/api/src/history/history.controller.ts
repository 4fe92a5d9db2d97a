import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { toPage } from '#libs/common';
import { ApiProblems, RequireScope } from '#libs/http';
import { historyCursorKey, HistoryService } from '#libs/history';
import { ParseUserIdPipe, ApiUserIdParam } from '../http/params.js';
import { HistoryEntryDto, HistoryPageDto, HistoryQueryDto } from './dto/history.dto.js';

@ApiTags('history')
@Controller('users/:user_id/history')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getUserHistory',
    summary: "Get a user's membership history",
    description: 'Every change of the user’s memberships, newest first, cursor-paginated; `from`/`to` bound the time range.',
  })
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiProblems()
  @ApiUserIdParam()
  async list(@Param('user_id', ParseUserIdPipe) userId: number, @Query() query: HistoryQueryDto): Promise<HistoryPageDto> {
    const rows = await this.history.userHistory(userId, {
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
      limit: query.limit,
      cursor: query.cursor,
    });
    const page = toPage(rows, query.limit, historyCursorKey);
    return { items: page.items.map(HistoryEntryDto.from), next_cursor: page.next_cursor };
  }
}
