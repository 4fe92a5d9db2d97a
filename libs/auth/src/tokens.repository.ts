import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { queryRows } from '#libs/database';
import { DataSource } from 'typeorm';
import type { ApiToken, NewApiToken } from './tokens.types.js';

const TOKEN_COLUMNS = `
  id, name, scopes, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

const INSERT = `
  INSERT INTO api_tokens (name, scopes, secret_hash, expires_at) VALUES ($1, $2::varchar[], $3, $4)
  RETURNING ${TOKEN_COLUMNS}`;

const LIST = `
  SELECT ${TOKEN_COLUMNS} FROM api_tokens
  WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid)
  ORDER BY created_at, id LIMIT $3`;

const FIND_BY_DIGEST = `SELECT ${TOKEN_COLUMNS}, secret_hash AS digest FROM api_tokens WHERE secret_hash = $1`;

const REVOKE = `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id`;

/** One statement for every token used since the last flush; a later instant never moves back. */
const TOUCH = `
  UPDATE api_tokens t SET last_used_at = greatest(t.last_used_at, u.used_at)
  FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, used_at) WHERE t.id = u.id`;

/** Every statement on the `api_tokens` table. */
@Injectable()
export class TokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(token: NewApiToken, digest: Buffer): Promise<ApiToken> {
    const [row] = await queryRows<ApiToken>(this.dataSource.manager, INSERT, [token.name, token.scopes, digest, token.expiresAt ?? null]);
    return row!;
  }

  /** Tokens in (created_at, id) order after `after`, at most `limit`. */
  list(limit: number, after?: [Date, string]): Promise<ApiToken[]> {
    return queryRows<ApiToken>(this.dataSource.manager, LIST, [after?.[0] ?? null, after?.[1] ?? null, limit]);
  }

  async findByDigest(digest: Buffer): Promise<(ApiToken & { digest: Buffer }) | null> {
    const [row] = await queryRows<ApiToken & { digest: Buffer }>(this.dataSource.manager, FIND_BY_DIGEST, [digest]);
    return row ?? null;
  }

  /** Revokes the token (a second revocation keeps the first instant); false when no token has the id. */
  async revoke(id: string): Promise<boolean> {
    return (await queryRows(this.dataSource.manager, REVOKE, [id])).length > 0;
  }

  async touch(uses: readonly [string, Date][]): Promise<void> {
    if (uses.length === 0) return;
    await queryRows(this.dataSource.manager, TOUCH, [uses.map(([id]) => id), uses.map(([, at]) => at)]);
  }
}
