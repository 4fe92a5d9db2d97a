import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { queryRows } from '#libs/database';
import { DataSource, IsNull, Repository } from 'typeorm';
import { ApiToken } from './api-token.entity.js';
import type { NewApiToken } from './tokens.types.js';

/** One statement for every token used since the last flush; a later instant never moves back. Hand-written: one row per token in one statement. */
const TOUCH = `
  UPDATE api_tokens t SET last_used_at = greatest(t.last_used_at, u.used_at)
  FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, used_at) WHERE t.id = u.id`;

/** Every statement on the `api_tokens` table. */
@Injectable()
export class TokensRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(ApiToken) private readonly tokens: Repository<ApiToken>,
  ) {}

  async insert(token: NewApiToken, digest: Buffer): Promise<ApiToken> {
    const row = this.tokens.create({ name: token.name, scopes: token.scopes, secretHash: digest, expiresAt: token.expiresAt ?? null });
    await this.tokens.insert(row);
    delete row.secretHash;
    return row;
  }

  /** Tokens in (created_at, id) order after `after`, at most `limit`. */
  list(limit: number, after?: [Date, string]): Promise<ApiToken[]> {
    const query = this.tokens.createQueryBuilder('t').orderBy('t.createdAt').addOrderBy('t.id').take(limit);
    if (after) query.where('(t.createdAt, t.id) > (:createdAt, :id)', { createdAt: after[0], id: after[1] });
    return query.getMany();
  }

  findByDigest(digest: Buffer): Promise<ApiToken | null> {
    return this.tokens.createQueryBuilder('t').addSelect('t.secretHash').where('t.secretHash = :digest', { digest }).getOne();
  }

  /** Revokes the token (a second revocation keeps the first instant); false when no token has the id. */
  async revoke(id: string): Promise<boolean> {
    await this.tokens.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return this.tokens.existsBy({ id });
  }

  async touch(uses: readonly [string, Date][]): Promise<void> {
    if (uses.length === 0) return;
    await queryRows(this.dataSource.manager, TOUCH, [uses.map(([id]) => id), uses.map(([, at]) => at)]);
  }
}
