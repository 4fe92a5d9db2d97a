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

  it('keeps everyone who was in when the share is raised (monotonic)', () => {
    for (let user = 1; user <= 2000; user++) {
      const bucket = segmentBucket(11, user);
      if (bucket < thresholdOf(20)) expect(bucket < thresholdOf(20.01)).toBe(true);
    }
  });
});
