import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { tokenCursorKey, TokensService } from '#libs/auth';
import { toPage } from '#libs/common';
import { ApiProblems, RequireScope } from '#libs/http';
import { PageQueryDto } from '../http/page.dto.js';
import { ParseUuidPipe } from '../http/params.js';
import { CreatedTokenDto, CreateTokenDto, TokenDto, TokenPageDto } from './dto/token.dto.js';

@ApiTags('tokens')
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'createToken',
    summary: 'Create an API token',
    description: 'The secret is in this response only; it is stored as a hash.',
  })
  @ApiCreatedResponse({ type: CreatedTokenDto })
  @ApiProblems()
  async create(@Body() body: CreateTokenDto): Promise<CreatedTokenDto> {
    const { token, secret } = await this.tokens.create({
      name: body.name,
      scopes: body.scopes,
      expiresAt: body.expires_at === undefined ? undefined : new Date(body.expires_at),
    });
    return {
      id: token.id,
      name: token.name,
      scopes: token.scopes,
      token: secret,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
    };
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'listTokens',
    summary: 'List API tokens',
    description: 'Every token without its secret, in creation order.',
  })
  @ApiOkResponse({ type: TokenPageDto })
  @ApiProblems()
  async list(@Query() query: PageQueryDto): Promise<TokenPageDto> {
    const page = toPage(await this.tokens.list(query.limit, query.cursor), query.limit, tokenCursorKey);
    return { items: page.items.map(TokenDto.from), next_cursor: page.next_cursor };
  }

  @Delete(':id')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'revokeToken',
    summary: 'Revoke an API token',
    description: 'Refused at once by this instance and within 5 seconds by every other one.',
  })
  @ApiParam({ name: 'id', schema: { type: 'string', format: 'uuid' } })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiProblems(404)
  async revoke(@Param('id', ParseUuidPipe) id: string): Promise<void> {
    await this.tokens.revoke(id);
  }
}
