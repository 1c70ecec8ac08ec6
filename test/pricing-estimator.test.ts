import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import type { ModelRate } from '../shared/rateCard';
import { emptyUsage } from '../shared/usage';
import { admissionEstimator } from '../proxy/pricing/admissionEstimator';
import { costOf } from '../proxy/pricing/cost';
import {
  CALIBRATION_SAMPLES,
  CostEstimator,
  DEFAULT_CHARS_PER_TOKEN,
  DEFAULT_OUTPUT_TOKENS,
  MIN_OUTPUT_TOKENS,
  estimateOutputTokens,
  percentile,
} from '../proxy/pricing/estimator';
import { EXACT_COUNT_LIMIT, countTextTokens } from '../proxy/pricing/tokens';

const sonnet: ModelRate = { feature: 'assistant', input: 75, cached_input: 7.5, cache_write: 93.75, output: 375 };
const CODE = 'function add(a, b) {\n  // sum two numbers\n  return a + b * 42;\n}\nconst s = "The quick brown fox.";\n';

describe('countTextTokens', () => {
  it('counts with the real o200k tokenizer', () => {
    expect(countTextTokens('hello world')).toBe(2);
    expect(countTextTokens('')).toBe(0);
    const body = CODE.repeat(400); // ~30 KB, exact range
    expect(countTextTokens(body)).toBe(countTokens(body));
  });

  it('counts special-token markup in user text as text instead of throwing', () => {
    expect(countTextTokens('a <|endoftext|> b')).toBeGreaterThan(3);
  });

  it('stays fast and close on long runs without whitespace (quadratic in the plain tokenizer)', () => {
    const started = performance.now();
    const count = countTextTokens('a'.repeat(60_000)); // the plain tokenizer needs seconds for this
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(count).toBe(7_500); // 'aaaaaaaa' is one token; 256-char pieces split on token boundaries
  });

  it('extrapolates beyond the exact limit within a few percent', () => {
    const huge = CODE.repeat(Math.ceil((EXACT_COUNT_LIMIT * 6) / CODE.length));
    const exact = countTokens(CODE) * (huge.length / CODE.length);
    const counted = countTextTokens(huge);
    expect(Math.abs(counted - exact) / exact).toBeLessThan(0.02);
  });
});

describe('estimateOutputTokens', () => {
  it('holds the default, not max_tokens, when there is no history', () => {
    expect(estimateOutputTokens(null, 0, 64_000)).toBe(DEFAULT_OUTPUT_TOKENS);
    expect(estimateOutputTokens(null, 0, null)).toBe(DEFAULT_OUTPUT_TOKENS);
  });

  it('uses p95 of recent outputs, with a floor', () => {
    expect(estimateOutputTokens(3_000, 50, 64_000)).toBe(3_000);
    expect(estimateOutputTokens(10, 50, 64_000)).toBe(MIN_OUTPUT_TOKENS);
  });

  it('keeps the default as a floor while history is thin', () => {
    expect(estimateOutputTokens(10, 2, null)).toBe(DEFAULT_OUTPUT_TOKENS);
    expect(estimateOutputTokens(5_000, 2, null)).toBe(5_000);
  });

  it('is capped by a smaller max_tokens', () => {
    expect(estimateOutputTokens(3_000, 50, 100)).toBe(100);
    expect(estimateOutputTokens(null, 0, 0)).toBe(0);
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => (100 - i) * 10); // 1000 … 10, unsorted input
    expect(percentile(samples, 0.95)).toBe(950);
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile([], 0.95)).toBeNull();
  });
});

const emptyUsageOpenAi = emptyUsage('openai');

describe('CostEstimator.estimate', () => {
  const prompt = CODE.repeat(500); // ~40 KB, like a Codex / Claude Code body
  const noHistory = () => new CostEstimator({ historyFor: () => [] });
  const claudeCode = { model: 'claude-sonnet-4-5', rate: sonnet, vendor: 'anthropic' as const, promptText: prompt, maxOutputTokens: 64_000 };

  it('estimates a Claude-Code-like request (max_tokens 64,000, no history) far below the worst case', () => {
    const estimate = noHistory().estimate(claudeCode);
    // Before the model has reported, a conservative characters-per-token: more tokens than o200k counts.
    expect(estimate.inputTokens).toBe(Math.ceil(prompt.length / DEFAULT_CHARS_PER_TOKEN));
    expect(estimate.inputTokens).toBeGreaterThan(countTokens(prompt));
    expect(estimate.outputTokens).toBe(DEFAULT_OUTPUT_TOKENS);
    const worst = costOf(sonnet, { ...emptyUsage('anthropic'), inputTokens: estimate.inputTokens, outputTokens: 64_000 });
    expect(estimate.cost).toBe(estimate.inputTokens * 75 + DEFAULT_OUTPUT_TOKENS * 375);
    expect(estimate.cost).toBeLessThan(worst / 3);
  });

  it('adds what the request itself says it will use: images, characters, seconds', () => {
    const estimator = noHistory();
    const dalle = { feature: 'images', input: 0, output: 0, per_image: 1 };
    const units = (fields: Partial<typeof emptyUsageOpenAi>) => ({ ...emptyUsageOpenAi, ...fields });
    const request = { model: 'dall-e-3', rate: dalle, vendor: 'openai' as const, promptText: 'a cat', maxOutputTokens: 0 };
    expect(estimator.estimate(request).cost).toBe(0);
    expect(estimator.estimate({ ...request, unitUsage: units({ images: 2 }) }).cost).toBe(2_000_000);
    const tts = { feature: 'audio', input: 0, output: 0, per_character: 0.000375 };
    expect(estimator.estimate({ ...request, model: 'tts-1', rate: tts, unitUsage: units({ characters: 1_000 }) }).cost).toBe(375_000);
    // The per-unit figures add to the token estimate; token figures in them do not replace it.
    const gptImage = { feature: 'images', input: 125, output: 1000 };
    const tokensOnly = estimator.estimate({ ...request, model: 'gpt-image-1', rate: gptImage, maxOutputTokens: null });
    expect(estimator.estimate({ ...request, model: 'gpt-image-1', rate: gptImage, maxOutputTokens: null, unitUsage: units({ images: 1, outputTokens: 6240 }) }).cost).toBe(tokensOnly.cost);
  });

  it("learns each model's characters per token from the vendor's own input counts", () => {
    const estimator = noHistory();
    // The vendor counted 4,000 tokens for each 20,000-character prompt: 5 characters per token.
    for (let i = 0; i < 3; i++) estimator.record('claude-sonnet-4-5', { outputTokens: 100, promptChars: 20_000, inputTokens: 4_000 });
    expect(estimator.estimate(claudeCode).inputTokens).toBe(Math.ceil(prompt.length / 5));
    // Other models keep their own calibration.
    expect(estimator.estimate({ ...claudeCode, model: 'gpt-5' }).inputTokens).toBe(Math.ceil(prompt.length / DEFAULT_CHARS_PER_TOKEN));
    // Only the recent window counts: after CALIBRATION_SAMPLES new ones, the old ratio is gone.
    for (let i = 0; i < CALIBRATION_SAMPLES; i++) estimator.record('claude-sonnet-4-5', { outputTokens: 100, promptChars: 2_000, inputTokens: 1_000 });
    expect(estimator.estimate(claudeCode).inputTokens).toBe(Math.ceil(prompt.length / 2));
    // Empty prompts and zero counts teach nothing.
    estimator.record('claude-sonnet-4-5', { outputTokens: 100, promptChars: 0, inputTokens: 50 });
    expect(estimator.estimate(claudeCode).inputTokens).toBe(Math.ceil(prompt.length / 2));
  });

  it('uses p95 of the history when there is one', () => {
    const history = Array.from({ length: 100 }, (_, i) => (i + 1) * 40); // p95 = 3,800
    const estimator = new CostEstimator({ historyFor: () => history });
    expect(estimator.estimate({ ...claudeCode, promptText: 'hi' }).outputTokens).toBe(3_800);
  });

  it('never assumes a cache discount for OpenAI input', () => {
    const gpt5: ModelRate = { feature: 'assistant', input: 31.25, cached_input: 3.125, output: 250 };
    const estimate = noHistory().estimate({ model: 'gpt-5', rate: gpt5, vendor: 'openai', promptText: 'hello world', maxOutputTokens: 10 });
    // ceil(11 / 3) = 4 input tokens: 4 × 31.25 + 10 × 250 = 2,625 (cached would be 2,512.5)
    expect(estimate.cost).toBe(2_625);
  });
});

describe('CostEstimator', () => {
  const request = { model: 'm', rate: sonnet, vendor: 'anthropic' as const, promptText: 'hi', maxOutputTokens: 64_000 };

  it('reads history once per model and learns from record() in between', () => {
    const reads: string[] = [];
    const estimator = new CostEstimator({ historyFor: (model) => (reads.push(model), Array(20).fill(500)) });
    expect(estimator.estimate(request).outputTokens).toBe(500);
    for (let i = 0; i < 20; i++) estimator.record('m', { outputTokens: 9_000, promptChars: 2, inputTokens: 1 });
    expect(estimator.estimate(request).outputTokens).toBe(9_000);
    expect(reads).toEqual(['m']);
  });

  it('re-reads history after N posts and after the refresh period', () => {
    let now = 0;
    let reads = 0;
    const estimator = new CostEstimator({
      historyFor: () => (reads++, []),
      refreshEveryPosts: 3,
      refreshAfterMs: 1_000,
      now: () => now,
    });
    estimator.estimate(request);
    for (let i = 0; i < 3; i++) estimator.record('m', { outputTokens: 100, promptChars: 2, inputTokens: 1 });
    estimator.estimate(request);
    expect(reads).toBe(2);
    now = 999;
    estimator.estimate(request);
    expect(reads).toBe(2);
    now = 2_000;
    estimator.estimate(request);
    expect(reads).toBe(3);
  });

  it('keeps at most maxSamples in memory, dropping the loaded (older) samples first', () => {
    const estimator = new CostEstimator({ historyFor: () => [50_000, 40_000, 30_000, 20_000, 10_000], maxSamples: 10 });
    expect(estimator.outputTokensFor('m', null)).toBe(50_000);
    for (let i = 0; i < 10; i++) estimator.record('m', { outputTokens: 300, promptChars: 2, inputTokens: 1 });
    expect(estimator.outputTokensFor('m', null)).toBe(300);
  });

  it('backs the gateway estimator with the ledger history', () => {
    const gateway = admissionEstimator({ recentOutputTokens: () => Array(10).fill(2_000) });
    expect(gateway.estimate(request).cost).toBe(Math.ceil('hi'.length / DEFAULT_CHARS_PER_TOKEN) * 75 + 2_000 * 375);
    expect(gateway.countTokens('hello world')).toBe(2);
  });
});
