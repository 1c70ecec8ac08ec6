import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { creditsToMicro, formatCredits, microToCredits, parseCredits } from '../shared/money';

describe('money', () => {
  it('parses decimal credit strings exactly', () => {
    expect(parseCredits('12')).toBe(12_000_000);
    expect(parseCredits('0.000001')).toBe(1);
    expect(parseCredits('-3.5')).toBe(-3_500_000);
    expect(parseCredits('1.0000001')).toBeNull();
    expect(parseCredits('abc')).toBeNull();
  });

  it('rejects numbers finer than a micro-credit', () => {
    expect(creditsToMicro(0.1)).toBe(100_000);
    expect(creditsToMicro(1e-7)).toBeNull();
    expect(creditsToMicro(Number.NaN)).toBeNull();
  });

  it('round-trips every micro amount through its decimal string', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), (micro) => {
        expect(parseCredits(formatCredits(micro))).toBe(micro);
        expect(creditsToMicro(microToCredits(micro))).toBe(micro);
      }),
    );
  });
});
