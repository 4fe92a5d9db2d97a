import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, segmentBucket, thresholdOf } from './bucket.js';

describe('bucket function', () => {
  it('is the first 32 bits of md5("<segment>:<user>") modulo 10 000', () => {
    // `printf 1:1 | md5sum` → d0bd571d…: 0xd0bd571d = 3502069533, and 3502069533 mod 10 000 = 9533.
    expect(segmentBucket(1, 1)).toBe(9533);
  });

  it('is deterministic and within 0 … 9999', () => {
    for (let user = 1; user <= 1000; user++) {
      const bucket = segmentBucket(7, user);
      expect(bucket).toBe(segmentBucket(7, user));
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
    }
  });

  it('selects close to the asked share of users', () => {
    const selected = Array.from({ length: 20_000 }, (_, index) => segmentBucket(3, index + 1)).filter((bucket) => bucket < thresholdOf(25));
    // Binomial(20 000, 0.25): 5 000 ± 61; 6 σ is far outside any fair hash.
    expect(Math.abs(selected.length - 5000)).toBeLessThan(370);
  });

  it('turns auto_percent (two decimals) into a bucket threshold', () => {
    expect(thresholdOf(null)).toBe(0);
    expect(thresholdOf(0)).toBe(0);
    expect(thresholdOf(0.01)).toBe(1);
    expect(thresholdOf(33.33)).toBe(3333);
    expect(thresholdOf(100)).toBe(BUCKETS);
  });

  it('keeps everyone who was in when the share is raised (monotonic), for any segment, user and pair of shares', () => {
    // Shares as auto_percent takes them: 0–100 with two decimals.
    const percent = fc.integer({ min: 0, max: 10_000 }).map((hundredths) => hundredths / 100);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        percent,
        percent,
        (segment, user, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const bucket = segmentBucket(segment, user);
          // Selected at the lower share ⇒ selected at the higher one; and the thresholds themselves are ordered.
          expect(thresholdOf(low)).toBeLessThanOrEqual(thresholdOf(high));
          if (bucket < thresholdOf(low)) expect(bucket).toBeLessThan(thresholdOf(high));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('selects exactly the users whose bucket is below the threshold: nobody at 0 %, everybody at 100 %', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (segment, user) => {
        const bucket = segmentBucket(segment, user);
        expect(Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKETS).toBe(true);
        expect(bucket < thresholdOf(0)).toBe(false);
        expect(bucket < thresholdOf(null)).toBe(false);
        expect(bucket < thresholdOf(100)).toBe(true);
        // The threshold just above the bucket selects the user, the one at the bucket does not.
        expect(bucket < thresholdOf((bucket + 1) / 100)).toBe(true);
        expect(bucket < thresholdOf(bucket / 100)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('raising the share of a population keeps the selected set and only adds to it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (segment, users, x, y) => {
          const [low, high] = [Math.min(x, y) / 100, Math.max(x, y) / 100];
          const selected = (percent: number) => new Set(users.filter((user) => segmentBucket(segment, user) < thresholdOf(percent)));
          const before = selected(low);
          const after = selected(high);
          for (const user of before) expect(after.has(user)).toBe(true);
          expect(after.size).toBeGreaterThanOrEqual(before.size);
        },
      ),
    );
  });
});
