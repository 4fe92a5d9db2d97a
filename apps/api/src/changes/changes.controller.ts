import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { AppConfig } from '#libs/config';
import { ChangeFeedService, feedPositionOf } from '#libs/history';
import { ApiProblems, RequireScope } from '#libs/http';
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { ChangeDto, ChangePageDto, ChangesQueryDto, ChangesStreamQueryDto } from './dto/change.dto.js';

const CURSOR_EXPIRED: [number, string] = [410, 'The cursor points into history that retention dropped; start again without one'];
/** Entries read per query of a stream. */
const STREAM_BATCH = 1000;

@ApiTags('changes')
@Controller('changes')
export class ChangesController {
  constructor(
    private readonly feed: ChangeFeedService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    operationId: 'listChanges',
    summary: 'Read the change feed',
    description:
      'Every membership change (manual, auto, ttl, segment_deleted, imports) in feed order. Resuming from the cursor of the ' +
      'last change you have, you never miss a change and never see one twice, whatever the number of writers and instances. ' +
      'A change appears once its transaction, and every older one, has finished. 410 when your cursor is older than the retained history.',
  })
  @ApiOkResponse({ type: ChangePageDto })
  @ApiProblems(CURSOR_EXPIRED)
  async list(@Query() query: ChangesQueryDto): Promise<ChangePageDto> {
    const entries = await this.feed.page(await this.feed.position(query.after, 'after'), query.limit);
    const items = entries.map(ChangeDto.from);
    return { items, next_cursor: items.at(-1)?.cursor ?? query.after ?? null };
  }

  @Get('stream')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'streamChanges',
    summary: 'Stream the change feed (Server-Sent Events)',
    description:
      "The same changes as GET /changes as Server-Sent Events: `id:` is the change's cursor, `data:` the change as JSON; " +
      'a comment line every few seconds keeps the connection open. Reconnecting with `Last-Event-ID` (or `after`) resumes ' +
      'exactly. A change is sent within a second of its commit. 503 when this instance serves its maximum of streams.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The cursor of the last change received; wins over `after`' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: "An endless stream of events; the data of each is a Change (the schema below), its `id` the change's cursor",
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(ChangeDto) } } },
  })
  @ApiProblems(CURSOR_EXPIRED, [
    503,
    'PostgreSQL is unavailable, or this instance serves its maximum of streams; retry after `Retry-After` seconds',
  ])
  async stream(
    @Query() query: ChangesStreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    let position = await this.feed.position(lastEventId ?? query.after, lastEventId === undefined ? 'after' : 'Last-Event-ID');
    const close = this.feed.openStream();
    const socket = reply.raw;
    let closed = false;
    socket.on('close', () => {
      closed = true;
      close();
    });
    reply.hijack();
    socket.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': reply.request.id,
    });
    socket.write(': change feed\n\n');
    let lastWrite = Date.now();
    try {
      while (!closed) {
        const entries = await this.feed.page(position, STREAM_BATCH);
        for (const entry of entries) {
          const change = ChangeDto.from(entry);
          // Back-pressure: a slow consumer slows its own stream, never the process's memory.
          if (!socket.write(`id: ${change.cursor}\ndata: ${JSON.stringify(change)}\n\n`)) await drained(socket);
          this.feed.sent(entry);
          if (closed) break;
        }
        if (entries.length > 0) {
          position = feedPositionOf(entries.at(-1)!);
          lastWrite = Date.now();
          if (entries.length === STREAM_BATCH) continue;
        }
        if (Date.now() - lastWrite >= this.config.FEED_HEARTBEAT_MS) {
          socket.write(': heartbeat\n\n');
          lastWrite = Date.now();
        }
        await this.feed.waitForChanges();
      }
    } catch {
      // The database went away, or the client did: end the stream; the client reconnects with Last-Event-ID.
    } finally {
      close();
      socket.end();
    }
  }
}

/** Resolves once `socket` takes writes again or has closed (its listeners removed either way: a stream waits often). */
function drained(socket: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
