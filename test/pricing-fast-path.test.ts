/**
 * decimal.ts prices in plain doubles whenever every intermediate is a safe integer, and in BigInt
 * otherwise. Both give the same answer, so a fast path that gives up too early is invisible to tests
 * that compare answers: it only makes every request's pricing far slower. These tests hold the fast
 * path to answering the usual requests itself, without creating a single BigInt, and check the exact
 * answer at the edges where the number formats get unusual.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { costOf } from '../proxy/pricing/cost';
import type { Term } from '../proxy/pricing/decimal';
import { sumInBigInts, sumRoundedHalfUp } from '../proxy/pricing/decimal';
import { defaultRateCard } from '../proxy/pricing';
import type { ModelRate } from '../shared/rateCard';

afterEach(() => vi.restoreAllMocks());

/** Runs `work` and counts the BigInts it creates (only the BigInt path and price parsing create any). */
function countingBigInts<T>(work: () => T): { value: T; bigInts: number } {
  const spy = vi.spyOn(globalThis, 'BigInt');
  try {
    const value = work();
    return { value, bigInts: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

const card = defaultRateCard();
const rates: ModelRate[] = Object.values(card.models);
const PRICE_FIELDS = ['input', 'cached_input', 'cache_write', 'cache_write_1h', 'output', 'image_input', 'audio_input', 'per_image', 'per_audio_second', 'per_character'] as const;
const UNIT_PRICES = new Set<string>(['per_image', 'per_audio_second', 'per_character']);

let seed = 7;
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const upTo = (max: number): number => Math.floor(random() * (max + 1));

/** A request as the gateway sees them: a model of the shipped card, up to 10M tokens a part. */
function usualTerms(): Term[] {
  const rate = rates[upTo(rates.length - 1)]!;
  const terms: Term[] = [];
  for (const field of PRICE_FIELDS) {
    const price = rate[field];
    if (price === undefined) continue;
    terms.push(UNIT_PRICES.has(field) ? { price, quantity: upTo(1_000), shift: 6 } : { price, quantity: upTo(10 ** upTo(7)) });
  }
  return terms;
}

describe('the fast path of exact pricing', () => {
  it('prices every usual request of the shipped card without one BigInt, exactly as the BigInt path', () => {
    // Nothing used at all is usual too (a request refused upstream).
    const requests = [[], [{ price: 2, quantity: 0 }], ...Array.from({ length: 2_000 }, usualTerms)];
    const exact = requests.map(sumInBigInts); // also parses and caches every price of the card
    const { value: fast, bigInts } = countingBigInts(() => requests.map(sumRoundedHalfUp));
    expect(bigInts).toBe(0);
    expect(fast).toEqual(exact);
  });

  it('prices a whole usage through costOf without one BigInt once the card’s prices are known', () => {
    const rate: ModelRate = { feature: 'assistant', input: 3.125, cached_input: 0.3125, cache_write: 3.90625, output: 15.625, per_image: 0.04 };
    const usage = { vendor: 'anthropic' as const, inputTokens: 123_457, cachedInputTokens: 1_000_001, cacheWriteTokens: 2_048, outputTokens: 4_097, reasoningTokens: 0, images: 3 };
    const first = costOf(rate, usage);
    const { value, bigInts } = countingBigInts(() => costOf(rate, usage));
    expect(bigInts).toBe(0);
    // 123,457 × 3.125 + 1,000,001 × 0.3125 + 2,048 × 3.90625 + 4,097 × 15.625 + 3 × 40,000 micro-credits.
    expect(value).toBe(890_319); // 890,319.0625
    expect(value).toBe(first);
  });

  it('keeps a request on the fast path when a part it did not use has a very fine price', () => {
    // Were the unused 1.5e-10 counted, every other term would be lifted to 11 decimals and overflow.
    const terms: Term[] = [{ price: 1.5e-10, quantity: 0 }, { price: 3.75, quantity: 1_000_000_000 }];
    sumInBigInts(terms);
    const { value, bigInts } = countingBigInts(() => sumRoundedHalfUp(terms));
    expect(bigInts).toBe(0);
    expect(value).toBe(3_750_000_000);
  });

  it('hands a sum that would pass 2^53 to the BigInt path, which still rounds it exactly', () => {
    // 2^53 + 1 tokens at one micro-credit: not a safe integer, so the doubles cannot hold the sum.
    const terms: Term[] = [{ price: 1, quantity: 2 ** 53 - 1 }, { price: 0.5, quantity: 5 }];
    const { value, bigInts } = countingBigInts(() => sumRoundedHalfUp(terms));
    expect(bigInts).toBeGreaterThan(0);
    expect(value).toBe(Number(2n ** 53n + 2n)); // …991 + 2.5, rounded half up
  });
});

describe('unusual price formats', () => {
  it('prices 1.5e-10 credits per token (a two-digit exponent) exactly, halves rounded up', () => {
    expect(String(1.5e-10)).toBe('1.5e-10');
    expect(sumRoundedHalfUp([{ price: 1.5e-10, quantity: 1e10 }])).toBe(2); // 1.5
    expect(sumRoundedHalfUp([{ price: 1.5e-10, quantity: 9_999_999_999 }])).toBe(1); // 1.49999999985
    expect(sumRoundedHalfUp([{ price: 1.5e-10, quantity: 1e12 }, { price: 2.5e-7, quantity: 2 }])).toBe(150); // 150.0000005
    const rate: ModelRate = { feature: 'assistant', input: 1.5e-10, output: 2 };
    expect(costOf(rate, { vendor: 'openai', inputTokens: 3e10, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 2, reasoningTokens: 0 })).toBe(9); // 4.5 + 4
  });

  it('prices with 16 or more decimals, past the powers of ten the fast path keeps, on the exact path', () => {
    // 2.5e-15 has 16 decimals and 2.5e-16 has 17; their products stay small enough for the fast path.
    expect(sumRoundedHalfUp([{ price: 2.5e-15, quantity: 2e14 }])).toBe(1); // 0.5
    expect(sumRoundedHalfUp([{ price: 2.5e-16, quantity: 2e14 }])).toBe(0); // 0.05
    expect(sumRoundedHalfUp([{ price: 2.5e-16, quantity: 2e14 }, { price: 0.45, quantity: 1 }])).toBe(1); // 0.5
  });

  it('prices a price written with a positive exponent', () => {
    expect(String(2e21)).toBe('2e+21');
    expect(sumRoundedHalfUp([{ price: 2e21, quantity: 3 }])).toBe(6e21);
    expect(sumRoundedHalfUp([{ price: 1.5e21, quantity: 1, shift: 6 }])).toBe(1.5e27);
  });

  it('prices fractional quantities (audio seconds) exactly', () => {
    expect(sumRoundedHalfUp([{ price: 0.0001, quantity: 12.5, shift: 6 }])).toBe(1_250);
    expect(sumRoundedHalfUp([{ price: 0.0001, quantity: 0.000005, shift: 6 }])).toBe(0); // 0.0005
    expect(sumRoundedHalfUp([{ price: 1, quantity: 2.5e-7, shift: 6 }, { price: 1, quantity: 2.5e-7, shift: 6 }])).toBe(1); // 0.5
  });

  it('rounds a negative total half up as well, towards +∞ (the BigInt path; the fast one takes no negatives)', () => {
    const sum = (price: number): number => sumRoundedHalfUp([{ price, quantity: 1 }]);
    expect([sum(-0.5), sum(-1.4), sum(-1.5), sum(-1.6), sum(-2)]).toEqual([0, -1, -1, -2, -2]);
  });

  it('refuses a price that is not a finite number', () => {
    expect(() => sumRoundedHalfUp([{ price: Number.POSITIVE_INFINITY, quantity: 1 }])).toThrow(new RangeError('not a finite number: Infinity'));
    expect(() => sumInBigInts([{ price: 2, quantity: Number.NaN }])).toThrow(new RangeError('not a finite number: NaN'));
  });
});

describe('where the fast path must give up', () => {
  it('gives up on a fractional quantity whose product only looks like an exact integer in doubles', () => {
    // 4,828 × 164,306.9 × 10^7 is 7,932,737,132,000,000, but in doubles …131,999,999: a safe integer,
    // one unit short, and here that unit is the difference between rounding up and down.
    const terms: Term[] = [{ price: 4_828, quantity: 164_306.9 }, { price: 3e-7, quantity: 1_000_000 }];
    expect(4_828 * 164_306.9 * 1e7).toBe(7_932_737_131_999_999);
    expect(sumInBigInts(terms)).toBe(793_273_714); // 793,273,713.5
    expect(sumRoundedHalfUp(terms)).toBe(793_273_714);
  });

  it('gives up on a product past 2^53 even when later terms bring the sum back into the safe range', () => {
    // 3 × 3,002,399,751,580,331 = 2^53 + 1 rounds to 2^53 in doubles; the negative price cancels the
    // first term, so only the product's own check can notice the lost unit.
    const terms: Term[] = [{ price: 1, quantity: 2 ** 53 - 1 }, { price: -3, quantity: 3_002_399_751_580_331 }, { price: 1, quantity: 10 }];
    expect(sumInBigInts(terms)).toBe(8);
    expect(sumRoundedHalfUp(terms)).toBe(8);
  });

  it('gives up on a running total past 2^53 even when later terms bring it back into the safe range', () => {
    // (2^53 − 1) + 2 rounds to 2^53 in doubles; the last term's −10 would land on a safe but wrong total.
    const terms: Term[] = [{ price: 1, quantity: 2 ** 53 - 1 }, { price: 1, quantity: 2 }, { price: -1, quantity: 10 }];
    expect(sumInBigInts(terms)).toBe(9_007_199_254_740_983);
    expect(sumRoundedHalfUp(terms)).toBe(9_007_199_254_740_983);
  });

  it('skips a part used zero times, or priced at zero, on both paths, whatever its other figure', () => {
    // An unused part is not priced at all: neither its price nor its count is parsed.
    const terms: Term[] = [{ price: Number.POSITIVE_INFINITY, quantity: 0 }, { price: 0, quantity: Number.NaN }, { price: 2, quantity: 3 }];
    expect(sumInBigInts(terms)).toBe(6);
    expect(sumRoundedHalfUp(terms)).toBe(6);
  });
});

describe('the parsed-price cache', () => {
  it('is bounded: after 10,000 other prices, a price is parsed again', () => {
    const terms: Term[] = [{ price: 0.3, quantity: 7 }];
    sumRoundedHalfUp(terms);
    expect(countingBigInts(() => sumRoundedHalfUp(terms)).bigInts).toBe(0); // parsed once, then known
    for (let i = 0; i < 10_000; i++) sumRoundedHalfUp([{ price: 777_000 + i / 4, quantity: 1 }]);
    const again = countingBigInts(() => sumRoundedHalfUp(terms));
    expect(again.bigInts).toBeGreaterThan(0);
    expect(again.value).toBe(2); // 2.1
  });
});
