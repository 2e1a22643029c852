import { describe, expect, it } from 'vitest';
import { randomId } from './random-id.ts';

describe('randomId', () => {
  it('gives base64url text of the bytes asked (16 characters for 12)', () => {
    expect(randomId()).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(randomId(9)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(randomId(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('never repeats, across many refills of its pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50_000; i += 1) ids.add(randomId());
    expect(ids.size).toBe(50_000);
  });

  it('looks random: every base64url character turns up, about equally often', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i += 1) {
      // The first 15 characters carry 6 random bits each (the 16th only 6 of 96 bits, too).
      for (const character of randomId().slice(0, 15)) {
        counts.set(character, (counts.get(character) ?? 0) + 1);
      }
    }
    expect(counts.size).toBe(64);
    const expected = (20_000 * 15) / 64;
    for (const count of counts.values())
      expect(Math.abs(count - expected) / expected).toBeLessThan(0.1);
  });
});
