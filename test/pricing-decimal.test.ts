import { describe, expect, it } from 'vitest';
import { sumInBigInts, sumRoundedHalfUp, type Term } from '../proxy/pricing/decimal';

// The safe-integer fast path must agree with the BigInt path everywhere, halves included.
describe('sumRoundedHalfUp', () => {
  const prices = [0, 0.1, 0.125, 0.25, 1.25, 2.5, 3, 10, 15, 0.075, 1.1, 0.3, 7.5e-7, 1234.56789];
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

  it('matches the BigInt sum on random usage, from tiny to huge counts', () => {
    for (let i = 0; i < 20_000; i++) {
      const terms: Term[] = [];
      const count = 1 + Math.floor(random() * 5);
      for (let t = 0; t < count; t++) {
        const magnitude = pick([1, 10, 1_000, 1e6, 1e9, 1e12, 1e15]);
        terms.push({ price: pick(prices), quantity: Math.floor(random() * magnitude), shift: random() < 0.2 ? 6 : 0 });
      }
      expect(sumRoundedHalfUp(terms)).toBe(sumInBigInts(terms));
    }
  });

  it('rounds exact halves up', () => {
    expect(sumRoundedHalfUp([{ price: 0.5, quantity: 1 }])).toBe(1);
    expect(sumRoundedHalfUp([{ price: 0.125, quantity: 4 }])).toBe(1);
    expect(sumRoundedHalfUp([{ price: 0.125, quantity: 3 }])).toBe(0);
    expect(sumRoundedHalfUp([{ price: 2.5, quantity: 123_456_789 }])).toBe(sumInBigInts([{ price: 2.5, quantity: 123_456_789 }]));
  });
});
