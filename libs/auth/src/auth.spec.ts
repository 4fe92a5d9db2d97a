import { describe, expect, it } from 'vitest';
import { grants, isScope } from './scopes.js';
import { digestOf, newSecret, sameDigest, TOKEN_PREFIX } from './token-secret.js';

describe('scopes', () => {
  it('include the ones below them: admin ⊃ write ⊃ read', () => {
    expect(grants(['admin'], 'read')).toBe(true);
    expect(grants(['admin'], 'write')).toBe(true);
    expect(grants(['write'], 'read')).toBe(true);
    expect(grants(['write'], 'admin')).toBe(false);
    expect(grants(['read'], 'write')).toBe(false);
    expect(grants(['read', 'write'], 'write')).toBe(true);
    expect(grants([], 'read')).toBe(false);
  });

  it('are exactly read, write and admin', () => {
    expect(['read', 'write', 'admin'].every(isScope)).toBe(true);
    expect(['Admin', 'root', '', undefined].some(isScope)).toBe(false);
  });
});

describe('token secrets', () => {
  it('are random, prefixed, and long enough for secret scanners', () => {
    const secrets = new Set(Array.from({ length: 100 }, newSecret));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) expect(secret).toMatch(new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`));
  });

  it('are compared by digest', () => {
    const secret = newSecret();
    expect(sameDigest(digestOf(secret), digestOf(secret))).toBe(true);
    expect(sameDigest(digestOf(secret), digestOf(`${secret}x`))).toBe(false);
  });
});
