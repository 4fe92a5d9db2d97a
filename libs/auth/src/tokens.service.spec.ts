import { encodeCursor, InvalidCursorError, NotFoundError, UnauthenticatedError } from '#libs/common';
import type { AppConfig } from '#libs/config';
import { beforeEach, describe, expect, it } from 'vitest';
import { configOf, mockOf } from '../../../test/support/mocks.js';
import type { ApiToken } from './api-token.entity.js';
import { digestOf, TOKEN_PREFIX } from './token-secret.js';
import type { TokensRepository } from './tokens.repository.js';
import { tokenCursorKey, TokensService } from './tokens.service.js';
import { BOOTSTRAP_ACTOR } from './tokens.types.js';

const ID = '0b8f3c2e-4d5a-4e6f-8a7b-9c0d1e2f3a4b';
const BOOTSTRAP = 'bootstrap-secret-0123456789abcdef0123';
const SECRET = `${TOKEN_PREFIX}${'x'.repeat(43)}`;
const NOW = Date.UTC(2026, 0, 1);

function stored(values: Partial<ApiToken> = {}): ApiToken {
  return {
    id: ID,
    name: 'checkout',
    scopes: ['write'],
    secretHash: digestOf(SECRET),
    revokedAt: null,
    expiresAt: null,
    createdAt: new Date(NOW - 1000),
    ...values,
  } as ApiToken;
}

/** The reason of the UnauthenticatedError a verification threw (undefined when it accepted). */
async function failure(verdict: () => unknown): Promise<string | undefined> {
  try {
    await verdict();
  } catch (error) {
    if (error instanceof UnauthenticatedError) return error.reason;
    throw error;
  }
  return undefined;
}

describe(TokensService.name, () => {
  let sut: TokensService;
  let tokens: ReturnType<typeof mockOf<TokensRepository>>;

  beforeEach(() => {
    tokens = mockOf<TokensRepository>('insert', 'list', 'findByDigest', 'revoke', 'touch');
    tokens.touch.mockResolvedValue(undefined);
    sut = new TokensService(tokens, configOf<AppConfig>({ AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP }));
  });

  describe('create', () => {
    it('stores only the digest of a new prefixed secret, and returns the secret once', async () => {
      tokens.insert.mockImplementation(async (token) => ({ ...stored(), ...token }));
      const { token, secret } = await sut.create({ name: 'ci', scopes: ['read'] });
      expect(secret.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(tokens.insert).toHaveBeenCalledWith({ name: 'ci', scopes: ['read'] }, digestOf(secret));
      expect(token.name).toBe('ci');
    });

    it('makes a different secret every time', async () => {
      tokens.insert.mockResolvedValue(stored());
      const a = await sut.create({ name: 'a', scopes: ['read'] });
      const b = await sut.create({ name: 'b', scopes: ['read'] });
      expect(a.secret).not.toBe(b.secret);
    });
  });

  describe('list', () => {
    it('asks for one more than the page, after the (created_at, id) its cursor holds', async () => {
      tokens.list.mockResolvedValue([]);
      await sut.list(20);
      expect(tokens.list).toHaveBeenLastCalledWith(21, undefined);
      await sut.list(20, encodeCursor(tokenCursorKey(stored())));
      expect(tokens.list).toHaveBeenLastCalledWith(21, [new Date(NOW - 1000), ID]);
    });

    it.each([
      ['an id that is no uuid', encodeCursor([NOW, 'not-a-uuid'])],
      ['a negative instant', encodeCursor([-1, ID])],
      ['one value', encodeCursor([NOW])],
    ])('refuses a cursor with %s', (_, cursor) => {
      expect(() => sut.list(20, cursor)).toThrow(InvalidCursorError);
      expect(tokens.list).not.toHaveBeenCalled();
    });
  });

  describe('revoke', () => {
    it('is NotFoundError for an id that is no uuid, without a query', async () => {
      await expect(sut.revoke('42')).rejects.toThrow(new NotFoundError('Token 42'));
      expect(tokens.revoke).not.toHaveBeenCalled();
    });

    it('is NotFoundError when no token has the id', async () => {
      tokens.revoke.mockResolvedValue(false);
      await expect(sut.revoke(ID)).rejects.toBeInstanceOf(NotFoundError);
      expect(tokens.revoke).toHaveBeenCalledWith(ID);
    });

    it('refuses the token on this instance at once, even while its verdict was cached', async () => {
      tokens.findByDigest.mockResolvedValueOnce(stored()).mockResolvedValueOnce(stored({ revokedAt: new Date(NOW) }));
      await sut.verify(SECRET, NOW);
      tokens.revoke.mockResolvedValue(true);
      await sut.revoke(ID);
      expect(await failure(() => sut.verify(SECRET, NOW))).toBe('revoked');
      expect(tokens.findByDigest).toHaveBeenCalledTimes(2);
    });
  });

  describe('verify', () => {
    it('accepts the bootstrap token as an admin acting as "bootstrap", without a lookup', () => {
      expect(sut.verify(BOOTSTRAP, NOW)).toEqual({ tokenId: null, name: BOOTSTRAP_ACTOR, scopes: ['admin'] });
      expect(tokens.findByDigest).not.toHaveBeenCalled();
    });

    it('accepts no bootstrap token when none is configured', async () => {
      const without = new TokensService(tokens, configOf<AppConfig>({}));
      expect(await failure(() => without.verify(BOOTSTRAP, NOW))).toBe('unknown');
    });

    it('refuses a secret without the prefix, or longer than any token, without a lookup', async () => {
      expect(await failure(() => sut.verify('abc', NOW))).toBe('unknown');
      expect(await failure(() => sut.verify(`${TOKEN_PREFIX}${'a'.repeat(300)}`, NOW))).toBe('unknown');
      expect(tokens.findByDigest).not.toHaveBeenCalled();
    });

    it('looks the secret up by its digest and returns the principal', async () => {
      tokens.findByDigest.mockResolvedValue(stored());
      await expect(sut.verify(SECRET, NOW)).resolves.toEqual({ tokenId: ID, name: 'checkout', scopes: ['write'] });
      expect(tokens.findByDigest).toHaveBeenCalledWith(digestOf(SECRET));
    });

    it.each([
      ['unknown', null],
      ['unknown', stored({ secretHash: digestOf('another') })],
      ['revoked', stored({ revokedAt: new Date(NOW - 1) })],
    ])('refuses it as %s', async (reason, row) => {
      tokens.findByDigest.mockResolvedValue(row);
      expect(await failure(() => sut.verify(SECRET, NOW))).toBe(reason);
    });

    it('accepts a token strictly before its expiry and refuses it at the instant', async () => {
      tokens.findByDigest.mockResolvedValue(stored({ expiresAt: new Date(NOW) }));
      await expect(sut.verify(SECRET, NOW - 1)).resolves.toMatchObject({ tokenId: ID });
      expect(await failure(() => sut.verify(SECRET, NOW))).toBe('expired');
    });

    it('answers from its cache synchronously, without another lookup', async () => {
      tokens.findByDigest.mockResolvedValue(stored());
      await sut.verify(SECRET, NOW);
      const again = sut.verify(SECRET, NOW);
      expect(again).not.toBeInstanceOf(Promise);
      expect(again).toMatchObject({ tokenId: ID });
      expect(tokens.findByDigest).toHaveBeenCalledOnce();
    });

    it('caches a refusal too', async () => {
      tokens.findByDigest.mockResolvedValue(null);
      await failure(() => sut.verify(SECRET, NOW));
      expect(await failure(() => sut.verify(SECRET, NOW))).toBe('unknown');
      expect(tokens.findByDigest).toHaveBeenCalledOnce();
    });
  });

  describe('last use', () => {
    it('is written once at shutdown for the tokens used, with the instant of the last use', async () => {
      tokens.findByDigest.mockResolvedValue(stored());
      await sut.verify(SECRET, NOW);
      sut.verify(SECRET, NOW + 500);
      sut.verify(BOOTSTRAP, NOW);
      await sut.onApplicationShutdown();
      expect(tokens.touch).toHaveBeenCalledExactlyOnceWith([[ID, new Date(NOW + 500)]]);
    });

    it('writes nothing when no token was used, and survives a failed write', async () => {
      await sut.onApplicationShutdown();
      expect(tokens.touch).not.toHaveBeenCalled();
      tokens.findByDigest.mockResolvedValue(stored());
      await sut.verify(SECRET, NOW);
      tokens.touch.mockRejectedValue(new Error('database down'));
      await expect(sut.onApplicationShutdown()).resolves.toBeUndefined();
    });
  });
});
