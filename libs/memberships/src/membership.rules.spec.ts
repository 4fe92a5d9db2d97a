import { RepeatedSlugsError } from '#libs/common';
import { describe, expect, it } from 'vitest';
import { assertDistinctSlugs, expiryOf, removalChange, sortSlugs, unknownSlugs } from './membership.rules.js';

describe('membership change rules', () => {
  it('accepts distinct slugs', () => {
    expect(() => assertDistinctSlugs({ add: [{ slug: 'A' }, { slug: 'B' }], remove: ['C'] })).not.toThrow();
  });

  it('names a slug listed twice or both added and removed, with where it was first', () => {
    try {
      assertDistinctSlugs({ add: [{ slug: 'A' }, { slug: 'A' }], remove: ['B', 'A'] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RepeatedSlugsError);
      expect((error as RepeatedSlugsError).slugs).toEqual([
        { slug: 'A', list: 'add', index: 1, first: { list: 'add', index: 0 } },
        { slug: 'A', list: 'remove', index: 1, first: { list: 'add', index: 0 } },
      ]);
    }
  });

  it('lists the unknown slugs with their positions', () => {
    const known = new Map([['A', 1]]);
    expect(unknownSlugs({ add: [{ slug: 'A' }, { slug: 'X' }], remove: ['Y', 'A'] }, known)).toEqual([
      { list: 'add', index: 1, slug: 'X' },
      { list: 'remove', index: 0, slug: 'Y' },
    ]);
  });

  it('gives an add its own expiry, else the default ttl, else none', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    expect(expiryOf({ slug: 'A', expiresAt: at }, 60)).toEqual({ expiresAt: at });
    expect(expiryOf({ slug: 'A', ttlSeconds: 5 }, 60)).toEqual({ ttlSeconds: 5 });
    expect(expiryOf({ slug: 'A' }, 60)).toEqual({ ttlSeconds: 60 });
    expect(expiryOf({ slug: 'A' }, undefined)).toEqual({});
  });

  it('logs the removal of an expired membership as its ttl removal at the expiry instant', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(removalChange({ userId: 1, segmentId: 2, expiresAt: at, expired: true }, 'S', 'manual', 'checkout')).toEqual({
      userId: 1,
      segmentId: 2,
      slug: 'S',
      operation: 'remove',
      reason: 'ttl',
      actor: 'ttl',
      occurredAt: at,
    });
    expect(removalChange({ userId: 1, segmentId: 2, expiresAt: at, expired: false }, 'S', 'segment_deleted', 'ops')).toEqual({
      userId: 1,
      segmentId: 2,
      slug: 'S',
      operation: 'remove',
      reason: 'segment_deleted',
      actor: 'ops',
    });
  });

  it('sorts slugs bytewise, like COLLATE "C"', () => {
    expect(sortSlugs(['b', 'B', 'a', 'A_', 'A', '.x'])).toEqual(['.x', 'A', 'A_', 'B', 'a', 'b']);
  });
});
