/**
 * The admission estimator at its boundaries: how much history makes a percentile, how many samples
 * calibrate characters per token, when a batch of new outputs moves the percentile, what record()
 * refuses to learn, and the very millisecond the history is read again.
 */
import { describe, expect, it } from 'vitest';
import { CALIBRATION_SAMPLES, CostEstimator, DEFAULT_OUTPUT_TOKENS, MIN_HISTORY, MIN_OUTPUT_TOKENS, estimateOutputTokens } from '../proxy/pricing/estimator';
import type { ModelRate } from '../shared/rateCard';

const rate: ModelRate = { feature: 'assistant', input: 1, output: 1 };
const request = (promptChars: number) => ({ model: 'm', rate, vendor: 'openai' as const, promptText: 'x'.repeat(promptChars), maxOutputTokens: null });
const hundreds = (count: number): number[] => Array.from({ length: count }, (_, i) => (i + 1) * 100);
const learnOutput = (estimator: CostEstimator, outputTokens: number): void => estimator.record('m', { outputTokens, promptChars: 0, inputTokens: 0 });

describe('the output estimate', () => {
  it('takes MIN_HISTORY samples as a history: from then on the floor is MIN_OUTPUT_TOKENS', () => {
    expect(estimateOutputTokens(100, MIN_HISTORY - 1, null)).toBe(DEFAULT_OUTPUT_TOKENS);
    expect(estimateOutputTokens(100, MIN_HISTORY, null)).toBe(MIN_OUTPUT_TOKENS);
  });

  it('moves with every new output while the history is short, and in batches of 16 after that', () => {
    // 31 outputs of 100..3,100: p95 is the 30th, 3,000. One more makes 32: no longer short.
    const short = new CostEstimator({ historyFor: () => hundreds(31) });
    expect(short.outputTokensFor('m', null)).toBe(3_000);
    learnOutput(short, 10_000);
    expect(short.outputTokensFor('m', null)).toBe(3_000);

    // 32 outputs of 100..3,200: p95 is the 31st, 3,100.
    const long = new CostEstimator({ historyFor: () => hundreds(32) });
    expect(long.outputTokensFor('m', null)).toBe(3_100);
    for (let i = 1; i < 16; i++) {
      learnOutput(long, 10_000);
      expect(long.outputTokensFor('m', null)).toBe(3_100);
    }
    learnOutput(long, 10_000); // the 16th: 48 samples, the 46th of them
    expect(long.outputTokensFor('m', null)).toBe(10_000);

    const fresh = new CostEstimator({ historyFor: () => hundreds(10) });
    expect(fresh.outputTokensFor('m', null)).toBe(1_000);
    learnOutput(fresh, 5_000);
    expect(fresh.outputTokensFor('m', null)).toBe(5_000);
  });

  it('learns outputs of zero tokens, and ignores counts that are not a number of tokens', () => {
    const zeros = new CostEstimator({ historyFor: () => [] });
    for (let i = 0; i < MIN_HISTORY; i++) learnOutput(zeros, 0);
    expect(zeros.outputTokensFor('m', null)).toBe(MIN_OUTPUT_TOKENS);
    for (const nonsense of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      const estimator = new CostEstimator({ historyFor: () => [] });
      for (let i = 0; i < MIN_HISTORY; i++) learnOutput(estimator, nonsense);
      expect(estimator.outputTokensFor('m', null)).toBe(DEFAULT_OUTPUT_TOKENS);
    }
  });

  it('reads the history again at the very millisecond the refresh period ends', () => {
    let now = 0;
    let reads = 0;
    const estimator = new CostEstimator({ historyFor: () => (reads++, []), refreshAfterMs: 1_000, now: () => now });
    estimator.outputTokensFor('m', null);
    now = 999;
    estimator.outputTokensFor('m', null);
    expect(reads).toBe(1);
    now = 1_000;
    estimator.outputTokensFor('m', null);
    expect(reads).toBe(2);
  });
});

describe('the input calibration', () => {
  it('averages exactly the last CALIBRATION_SAMPLES prompts', () => {
    const estimator = new CostEstimator({ historyFor: () => [] });
    // One prompt at 52 characters per token, then 49 at 2: 15,000 characters over 5,000 tokens.
    estimator.record('m', { outputTokens: 1, promptChars: 5_200, inputTokens: 100 });
    for (let i = 1; i < CALIBRATION_SAMPLES; i++) estimator.record('m', { outputTokens: 1, promptChars: 200, inputTokens: 100 });
    expect(estimator.estimate(request(3_000)).inputTokens).toBe(1_000);
    estimator.record('m', { outputTokens: 1, promptChars: 200, inputTokens: 100 }); // the first one drops out
    expect(estimator.estimate(request(3_000)).inputTokens).toBe(1_500);
  });

  it('learns nothing from a prompt the vendor counted no tokens for', () => {
    const estimator = new CostEstimator({ historyFor: () => [] });
    estimator.record('m', { outputTokens: 1, promptChars: 300, inputTokens: 100 });
    estimator.record('m', { outputTokens: 1, promptChars: 600, inputTokens: 0 });
    expect(estimator.estimate(request(300)).inputTokens).toBe(100);
  });
});
