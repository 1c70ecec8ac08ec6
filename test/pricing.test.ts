import { describe, expect, it } from 'vitest';
import type { ModelRate } from '../shared/rateCard';
import type { MeteredUsage } from '../shared/usage';
import { emptyUsage } from '../shared/usage';
import { costOf } from '../proxy/pricing/cost';

const gpt5: ModelRate = { feature: 'assistant', input: 31.25, cached_input: 3.125, output: 250 };
const sonnet: ModelRate = { feature: 'assistant', input: 75, cached_input: 7.5, cache_write: 93.75, output: 375 };
const usage = (vendor: MeteredUsage['vendor'], fields: Partial<MeteredUsage>): MeteredUsage => ({ ...emptyUsage(vendor), ...fields });

describe('costOf: vendor accounting (docs/product.md §6), in micro-credits', () => {
  it('OpenAI: input includes cached tokens, output includes reasoning', () => {
    // (10,000 − 8,000) × 31.25 + 8,000 × 3.125 + 1,500 × 250 = 62,500 + 25,000 + 375,000
    const u = usage('openai', { inputTokens: 10_000, cachedInputTokens: 8_000, outputTokens: 1_500, reasoningTokens: 1_000 });
    expect(costOf(gpt5, u)).toBe(462_500);
  });

  it('OpenAI: cache writes are a part of input, at the input price unless the rate has a cache-write price', () => {
    expect(costOf(gpt5, usage('openai', { inputTokens: 100, cacheWriteTokens: 100 }))).toBe(3_125);
    expect(costOf(gpt5, usage('openai', { inputTokens: 100, cachedInputTokens: 500 }))).toBe(313); // 312.5 → 313
    // gpt-6-sol's shape: 1.25× input for writes. 600 plain + 300 read + 100 written (never more than input).
    const sol: ModelRate = { feature: 'assistant', input: 50, cached_input: 5, cache_write: 62.5, output: 250 };
    expect(costOf(sol, usage('openai', { inputTokens: 1_000, cachedInputTokens: 300, cacheWriteTokens: 100 }))).toBe(600 * 50 + 300 * 5 + 100 * 62.5);
    expect(costOf(sol, usage('openai', { inputTokens: 1_000, cachedInputTokens: 300, cacheWriteTokens: 5_000 }))).toBe(300 * 5 + 700 * 62.5);
  });

  it('Anthropic: 1-hour cache writes are priced apart from 5-minute ones, within the writes', () => {
    const opus: ModelRate = { feature: 'assistant', input: 125, cached_input: 12.5, cache_write: 156.25, cache_write_1h: 250, output: 625 };
    expect(costOf(opus, usage('anthropic', { cacheWriteTokens: 1_000, cacheWrite1hTokens: 400 }))).toBe(600 * 156.25 + 400 * 250);
    // Never more 1-hour writes than writes; without a 1-hour price they pay the 5-minute one.
    expect(costOf(opus, usage('anthropic', { cacheWriteTokens: 100, cacheWrite1hTokens: 400 }))).toBe(100 * 250);
    expect(costOf(sonnet, usage('anthropic', { cacheWriteTokens: 1_000, cacheWrite1hTokens: 400 }))).toBe(1_000 * 93.75);
  });

  it('Anthropic: input excludes cache reads and writes, each priced on its own', () => {
    // 1,000 × 75 + 20,000 × 7.5 + 3,000 × 93.75 + 500 × 375 = 75,000 + 150,000 + 281,250 + 187,500
    const u = usage('anthropic', { inputTokens: 1_000, cachedInputTokens: 20_000, cacheWriteTokens: 3_000, outputTokens: 500 });
    expect(costOf(sonnet, u)).toBe(693_750);
  });

  it('falls back to the input price when the rate has no cache prices', () => {
    const plain: ModelRate = { feature: 'assistant', input: 10, output: 0 };
    expect(costOf(plain, usage('anthropic', { inputTokens: 1, cachedInputTokens: 2, cacheWriteTokens: 3 }))).toBe(60);
  });
});

describe('costOf: long-context prices', () => {
  const long: ModelRate = {
    feature: 'assistant', input: 50, cached_input: 5, cache_write: 62.5, output: 250,
    long_context: { above_input_tokens: 272_000, input: 100, cached_input: 10, output: 375 },
  };

  it('OpenAI: a prompt past the threshold pays the long-context prices for the whole request', () => {
    expect(costOf(long, usage('openai', { inputTokens: 272_000, outputTokens: 1_000 }))).toBe(272_000 * 50 + 1_000 * 250);
    expect(costOf(long, usage('openai', { inputTokens: 272_001, cachedInputTokens: 200_000, outputTokens: 1_000 }))).toBe(
      72_001 * 100 + 200_000 * 10 + 1_000 * 375,
    );
  });

  it('Anthropic: the threshold counts cache reads and writes with input; a price the tier lacks keeps its base value', () => {
    const u = usage('anthropic', { inputTokens: 2_001, cachedInputTokens: 250_000, cacheWriteTokens: 20_000, outputTokens: 10 });
    expect(costOf(long, u)).toBe(2_001 * 100 + 250_000 * 10 + 20_000 * 62.5 + 10 * 375);
  });
});

describe('costOf: one half-up rounding of the whole request', () => {
  const halves: ModelRate = { feature: 'assistant', input: 0.5, output: 0.5 };
  const fortyPercents: ModelRate = { feature: 'assistant', input: 0.4, output: 0.4 };

  it('rounds the sum, not each part (parts would give 2, and 0)', () => {
    expect(costOf(halves, usage('openai', { inputTokens: 1, outputTokens: 1 }))).toBe(1); // 0.5 + 0.5
    expect(costOf(fortyPercents, usage('openai', { inputTokens: 1, outputTokens: 1 }))).toBe(1); // 0.4 + 0.4 = 0.8
  });

  it('rounds exactly .5 micro up', () => {
    expect(costOf({ feature: 'assistant', input: 2.5, output: 0 }, usage('openai', { inputTokens: 1 }))).toBe(3);
    expect(costOf({ feature: 'assistant', input: 0.5, output: 0 }, usage('anthropic', { inputTokens: 1 }))).toBe(1);
    expect(costOf({ feature: 'assistant', input: 0.1, output: 0 }, usage('openai', { inputTokens: 5 }))).toBe(1);
    expect(costOf({ feature: 'assistant', input: 0.1, output: 0 }, usage('openai', { inputTokens: 4 }))).toBe(0);
  });

  it('stays exact at large totals where a float sum lands on .4999999', () => {
    // Σ = 814,441,314.5 exactly (checked with BigInt); summing as floats gives 814441314.4999999.
    const rate: ModelRate = { feature: 'assistant', input: 172.7727, cached_input: 63.0028, cache_write: 137.643, output: 118.8518 };
    const u = usage('anthropic', { inputTokens: 1_921_596, cachedInputTokens: 204_513, cacheWriteTokens: 1_897_473, outputTokens: 1_753_303 });
    expect(costOf(rate, u)).toBe(814_441_315);
  });
});

describe('costOf: per-unit features (credits per unit)', () => {
  it('prices images, audio seconds and characters', () => {
    const image: ModelRate = { feature: 'images', input: 0, output: 0, per_image: 1.05 };
    expect(costOf(image, usage('openai', { images: 2 }))).toBe(2_100_000);
    const audio: ModelRate = { feature: 'audio', input: 0, output: 0, per_audio_second: 0.0025 };
    expect(costOf(audio, usage('openai', { audioSeconds: 12.5 }))).toBe(31_250);
    const tts: ModelRate = { feature: 'audio', input: 0, output: 0, per_character: 0.000375 };
    expect(costOf(tts, usage('openai', { characters: 1_001 }))).toBe(375_375);
  });

  it('prices image and audio input tokens apart from text input, never counting a token twice', () => {
    const gptImage: ModelRate = { feature: 'images', input: 125, cached_input: 31.25, image_input: 250, output: 1000 };
    // 50 text × 125 + 250 image × 250 + 1,056 out × 1,000 = 6,250 + 62,500 + 1,056,000
    expect(costOf(gptImage, usage('openai', { inputTokens: 300, imageInputTokens: 250, outputTokens: 1_056 }))).toBe(1_124_750);
    // Cached tokens first, then image tokens only up to what input has left.
    expect(costOf(gptImage, usage('openai', { inputTokens: 100, cachedInputTokens: 40, imageInputTokens: 500 }))).toBe(40 * 31.25 + 60 * 250);
    const transcribe: ModelRate = { feature: 'audio', input: 62.5, audio_input: 150, output: 250, per_audio_second: 0.0025 };
    expect(costOf(transcribe, usage('openai', { inputTokens: 1_200, audioInputTokens: 1_000, outputTokens: 300 }))).toBe(200 * 62.5 + 1_000 * 150 + 300 * 250);
    // Without a price of their own they cost what text input costs.
    expect(costOf(gpt5, usage('openai', { inputTokens: 100, imageInputTokens: 60, audioInputTokens: 40 }))).toBe(3_125);
  });

  it('adds unit prices to token prices before the single rounding', () => {
    const mixed: ModelRate = { feature: 'images', input: 0.25, output: 0, per_character: 0.0000005 };
    // 2 × 0.25 + 1 × 0.5 (0.0000005 credits) = 1.0; rounding each part would give 1 + 1 = 2.
    expect(costOf(mixed, usage('openai', { inputTokens: 2, characters: 1 }))).toBe(1);
  });
});
