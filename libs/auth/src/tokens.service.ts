import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { cursorInteger, decodeCursor, NotFoundError, UnauthenticatedError } from '#libs/common';
import { AppConfig } from '#libs/config';
import { LRUCache } from 'lru-cache';
import { digestOf, newSecret, sameDigest, TOKEN_PREFIX } from './token-secret.js';
import { TokensRepository } from './tokens.repository.js';
import type { ApiToken } from './api-token.entity.js';
import { BOOTSTRAP_ACTOR, type NewApiToken, type Principal } from './tokens.types.js';

/**
 * How long an instance trusts what it learnt about a token: a revocation (or expiry set in the
 * database) takes effect on every instance within this time, and each instance looks each
 * token up at most once per period.
 */
export const TOKEN_CACHE_MS = 3_000;
/** How often the last use of tokens is written: one statement per period, never one per request. */
export const LAST_USED_FLUSH_MS = 10_000;

/** Longest secret looked at: a header longer than this is no token of this service. */
const MAX_SECRET_LENGTH = 256;

type Verdict = { principal: Principal; expiresAt: number | null } | { failure: 'unknown' | 'revoked' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const tokenCursorKey = (token: ApiToken): [number, string] => [token.createdAt.getTime(), token.id];
const parseTokenCursor = (values: unknown[]): [Date, string] | undefined => {
  const at = cursorInteger(values[0]);
  return values.length === 2 && at !== undefined && typeof values[1] === 'string' && UUID.test(values[1])
    ? [new Date(at), values[1]]
    : undefined;
};

/**
 * API tokens: creation (the secret is shown once and stored as its SHA-256 digest), listing,
 * revocation, and verification of the bearer token of every request. Verdicts are cached in
 * the process for TOKEN_CACHE_MS, so the hot paths pay a map lookup.
 */
@Injectable()
export class TokensService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TokensService.name);
  private readonly verdicts = new LRUCache<string, Verdict>({ max: 10_000, ttl: TOKEN_CACHE_MS });
  private readonly lastUsed = new Map<string, Date>();
  private readonly bootstrapDigest?: Buffer;
  private flushTimer?: NodeJS.Timeout;

  constructor(
    private readonly tokens: TokensRepository,
    config: AppConfig,
  ) {
    if (config.AUTH_BOOTSTRAP_TOKEN) this.bootstrapDigest = digestOf(config.AUTH_BOOTSTRAP_TOKEN);
  }

  onModuleInit(): void {
    this.flushTimer = setInterval(() => void this.flushLastUsed(), LAST_USED_FLUSH_MS);
    this.flushTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastUsed();
  }

  /** Creates a token; the returned secret is the only copy there will ever be. */
  async create(token: NewApiToken): Promise<{ token: ApiToken; secret: string }> {
    const secret = newSecret();
    const created = await this.tokens.insert(token, digestOf(secret));
    return { token: created, secret };
  }

  /** Tokens in creation order, `limit + 1` rows (see toPage with tokenCursorKey). */
  list(limit: number, cursor?: string): Promise<ApiToken[]> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, parseTokenCursor);
    return this.tokens.list(limit + 1, after);
  }

  /** Revokes a token: this instance refuses it at once, every other one within TOKEN_CACHE_MS. */
  async revoke(id: string): Promise<void> {
    if (!UUID.test(id) || !(await this.tokens.revoke(id))) throw new NotFoundError(`Token ${id}`);
    for (const [key, verdict] of this.verdicts.entries())
      if ('principal' in verdict && verdict.principal.tokenId === id) this.verdicts.delete(key);
  }

  /**
   * The principal of a bearer secret, or UnauthenticatedError saying why not. Synchronous
   * when the verdict is cached (the common case), so the hot paths never wait for it.
   */
  verify(secret: string, now = Date.now()): Principal | Promise<Principal> {
    if (secret.length > MAX_SECRET_LENGTH) throw new UnauthenticatedError('unknown');
    // Keyed by the secret itself: a cached token costs a map lookup, not a hash, on every request.
    const cached = this.verdicts.get(secret);
    if (cached) return this.judge(cached, now);
    if (this.bootstrapDigest && sameDigest(digestOf(secret), this.bootstrapDigest)) {
      const verdict = { principal: { tokenId: null, name: BOOTSTRAP_ACTOR, scopes: ['admin'] as const }, expiresAt: null };
      this.verdicts.set(secret, verdict);
      return verdict.principal;
    }
    if (!secret.startsWith(TOKEN_PREFIX)) throw new UnauthenticatedError('unknown');
    const digest = digestOf(secret);
    return this.lookUp(digest).then((verdict) => {
      this.verdicts.set(secret, verdict);
      return this.judge(verdict, now);
    });
  }

  private async lookUp(digest: Buffer): Promise<Verdict> {
    const token = await this.tokens.findByDigest(digest);
    if (!token?.secretHash || !sameDigest(token.secretHash, digest)) return { failure: 'unknown' };
    if (token.revokedAt !== null) return { failure: 'revoked' };
    return {
      principal: { tokenId: token.id, name: token.name, scopes: token.scopes },
      expiresAt: token.expiresAt === null ? null : token.expiresAt.getTime(),
    };
  }

  private judge(verdict: Verdict, now: number): Principal {
    if ('failure' in verdict) throw new UnauthenticatedError(verdict.failure);
    if (verdict.expiresAt !== null && verdict.expiresAt <= now) throw new UnauthenticatedError('expired');
    if (verdict.principal.tokenId !== null) this.lastUsed.set(verdict.principal.tokenId, new Date(now));
    return verdict.principal;
  }

  private async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const uses = [...this.lastUsed];
    this.lastUsed.clear();
    await this.tokens.touch(uses).catch((error: Error) => this.logger.warn(`Could not record token use: ${error.message}`));
  }
}
