import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiToken } from './api-token.entity.js';
import { ApiTokenGuard, authFailuresProvider } from './api-token.guard.js';
import { TokensRepository } from './tokens.repository.js';
import { TokensService } from './tokens.service.js';

/** API tokens and the guard every HTTP route of the process goes through. */
@Module({
  imports: [TypeOrmModule.forFeature([ApiToken])],
  providers: [TokensService, TokensRepository, authFailuresProvider, { provide: APP_GUARD, useClass: ApiTokenGuard }],
  exports: [TokensService],
})
export class AuthModule {}
