/**
 * How a request's input splits into priced parts when the vendor reports parts inside parts (OpenAI:
 * cache reads, cache writes, image and audio tokens all within input_tokens), and which requests pay
 * long-context prices. Each case is one where a part could be counted twice or not at all.
 */
import { describe, expect, it } from 'vitest';
import { costOf } from '../proxy/pricing/cost';
import { promptTokensOf, ratesForPrompt } from '../proxy/pricing/longContext';
import type { ModelRate } from '../shared/rateCard';
import type { MeteredUsage } from '../shared/usage';
import { emptyUsage } from '../shared/usage';

const usage = (vendor: MeteredUsage['vendor'], fields: Partial<MeteredUsage>): MeteredUsage => ({ ...emptyUsage(vendor), ...fields });

// Distinct prices per part, so every part's count shows in the total.
const realtime: ModelRate = { feature: 'assistant', input: 1, cached_input: 10, cache_write: 100, image_input: 1_000, audio_input: 10_000, output: 0 };

describe('OpenAI input parts', () => {
  it('gives image tokens only what cache reads and writes leave of the input', () => {
    // 100 input: 30 read, 50 written, so at most 20 of the 40 image tokens, and no plain input left.
    expect(costOf(realtime, usage('openai', { inputTokens: 100, cachedInputTokens: 30, cacheWriteTokens: 50, imageInputTokens: 40 }))).toBe(
      30 * 10 + 50 * 100 + 20 * 1_000,
    );
  });

  it('gives audio tokens only what cache reads, writes and image tokens leave', () => {
    // 100 input: 10 read, 20 written, 30 image, so at most 40 of the 90 audio tokens.
    const u = usage('openai', { inputTokens: 100, cachedInputTokens: 10, cacheWriteTokens: 20, imageInputTokens: 30, audioInputTokens: 90 });
    expect(costOf(realtime, u)).toBe(10 * 10 + 20 * 100 + 30 * 1_000 + 40 * 10_000);
    // With room to spare every part is counted in full, and the plain input is what is left.
    const roomy = usage('openai', { inputTokens: 1_000, cachedInputTokens: 10, cacheWriteTokens: 20, imageInputTokens: 30, audioInputTokens: 40 });
    expect(costOf(realtime, roomy)).toBe(900 * 1 + 10 * 10 + 20 * 100 + 30 * 1_000 + 40 * 10_000);
  });
});

describe('long-context prices', () => {
  const long: ModelRate = {
    feature: 'assistant', input: 50, cached_input: 5, output: 250,
    long_context: { above_input_tokens: 272_000, input: 100, cached_input: 10, output: 375 },
  };

  it('count an OpenAI prompt by its input tokens alone, cache reads and writes being inside them', () => {
    const u = usage('openai', { inputTokens: 272_000, cachedInputTokens: 200_000, cacheWriteTokens: 50_000, outputTokens: 10 });
    expect(promptTokensOf(u)).toBe(272_000);
    expect(costOf(long, u)).toBe(22_000 * 50 + 200_000 * 5 + 50_000 * 50 + 10 * 250);
  });

  it('count an Anthropic prompt with its cache reads and writes, which it reports apart', () => {
    expect(promptTokensOf(usage('anthropic', { inputTokens: 1, cachedInputTokens: 20, cacheWriteTokens: 300 }))).toBe(321);
  });

  it('are made once per rate: every long request of a model gets the same rate object', () => {
    const first = ratesForPrompt(long, 300_000);
    expect(first).toMatchObject({ input: 100, cached_input: 10, output: 375, long_context: undefined });
    expect(ratesForPrompt(long, 400_000)).toBe(first);
    expect(ratesForPrompt(long, 272_000)).toBe(long);
  });
});
