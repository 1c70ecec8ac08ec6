import { describe, expect, it } from 'vitest';
import type { ModelRate, RateCard } from '../shared/rateCard';
import { describeIssues, findModelRate, rateCardSchema } from '../shared/rateCard';
import shipped from '../shared/default-rate-card.json';
import { defaultRateCard } from '../proxy/pricing/defaultRateCard';
import { resolveRate } from '../proxy/pricing/rates';

const rate = (input: number): ModelRate => ({ feature: 'assistant', input, output: 0 });

function card(models: Record<string, ModelRate>, fallback: ModelRate | null = null): RateCard {
  return { version: 't', creditUsd: 0.04, models, default: fallback, packs: [] };
}

describe('rate-card matching', () => {
  const models = { 'gpt-5*': rate(1), 'gpt-5-c*': rate(2), 'gpt-5-codex': rate(3), 'gpt-5-codex*': rate(4) };

  it('prefers an exact name over every glob, even a longer one', () => {
    expect(findModelRate(card(models), 'gpt-5-codex')?.input).toBe(3);
  });

  it('picks the longest matching glob among globs', () => {
    expect(findModelRate(card(models), 'gpt-5-codex-max')?.input).toBe(4);
    expect(findModelRate(card(models), 'gpt-5-chat')?.input).toBe(2);
    expect(findModelRate(card(models), 'gpt-5.1')?.input).toBe(1);
  });

  it('falls back to default, and refuses when default is null', () => {
    expect(findModelRate(card(models, rate(9)), 'llama-3')?.input).toBe(9);
    expect(findModelRate(card(models, null), 'llama-3')).toBeNull();
    const refused = resolveRate(card(models, null), 'llama-3');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.message).toMatch(/'llama-3' is not on .*rate card \(version t\)/);
  });

  it('treats only * and ? as wildcards (a dot is literal)', () => {
    const globs = card({ 'gpt-4.1*': rate(1), 'o?-mini': rate(2) });
    expect(findModelRate(globs, 'gpt-4x1')).toBeNull();
    expect(findModelRate(globs, 'gpt-4.1-mini')?.input).toBe(1);
    expect(findModelRate(globs, 'o4-mini')?.input).toBe(2);
    expect(findModelRate(globs, 'o44-mini')).toBeNull();
  });
});

describe('rate-card schema errors', () => {
  it('names the bad key', () => {
    const result = rateCardSchema.safeParse({ version: 'v', creditUsd: 0.04, models: { 'gpt-5': { input: 'x', output: 1 } } });
    expect(result.success).toBe(false);
    if (!result.success) expect(describeIssues(result.error)).toMatch(/^models\.gpt-5\.input: /m);
  });

  it('refuses unknown keys inside a model rate', () => {
    const result = rateCardSchema.safeParse({ version: 'v', creditUsd: 0.04, models: { m: { input: 1, ouput: 2 } } });
    expect(result.success).toBe(false);
    if (!result.success) expect(describeIssues(result.error)).toContain('ouput');
  });

  it('refuses negative prices', () => {
    expect(rateCardSchema.safeParse({ version: 'v', creditUsd: 0.04, models: { m: { input: -1 } } }).success).toBe(false);
  });
});

describe('the shipped default rate card', () => {
  const shippedCard = defaultRateCard();
  const price = (model: string): ModelRate => {
    const found = findModelRate(shippedCard, model);
    if (!found) throw new Error(`${model} is not priced`);
    return found;
  };

  it('passes the schema as written, with no default and the three packs', () => {
    expect(rateCardSchema.safeParse(shipped).success).toBe(true);
    expect(shippedCard.version).toBe('2026-11-01');
    expect(shippedCard.creditUsd).toBe(0.04);
    expect(shippedCard.default).toBeNull();
    expect(shippedCard.packs.map((p) => [p.credits, p.usd])).toEqual([[100, 4], [500, 20], [1000, 40]]);
  });

  it('prices packs at the card rate (1 credit = $0.04)', () => {
    for (const pack of shippedCard.packs) expect(pack.usd).toBeCloseTo(pack.credits * shippedCard.creditUsd, 9);
  });

  it('has the list prices ×25 for the anchor models', () => {
    expect(price('gpt-5')).toMatchObject({ input: 31.25, cached_input: 3.125, output: 250 });
    expect(price('gpt-5-codex')).toMatchObject({ input: 31.25, output: 250 });
    expect(price('gpt-5.1-codex')).toMatchObject({ input: 31.25, output: 250 });
    expect(price('gpt-5-mini-2025-08-07')).toMatchObject({ input: 6.25, cached_input: 0.625, output: 50 });
    expect(price('gpt-5-nano')).toMatchObject({ input: 1.25, output: 10 });
    expect(price('gpt-5.1-codex-mini')).toMatchObject({ input: 6.25, output: 50 });
    expect(price('gpt-4.1-2025-04-14')).toMatchObject({ input: 50, cached_input: 12.5, output: 200 });
    expect(price('gpt-4o-mini')).toMatchObject({ input: 3.75, output: 15 });
    expect(price('o4-mini')).toMatchObject({ input: 27.5, output: 110 });
    expect(price('claude-sonnet-4-5-20250929')).toMatchObject({ input: 75, cached_input: 7.5, cache_write: 93.75, output: 375 });
    expect(price('claude-opus-4-1-20250805')).toMatchObject({ input: 375, output: 1875 });
    expect(price('claude-opus-4-5-20251101')).toMatchObject({ input: 125, output: 625 });
    expect(price('claude-haiku-4-5')).toMatchObject({ input: 25, output: 125 });
    expect(price('claude-3-5-haiku-20241022')).toMatchObject({ input: 20, output: 100 });
  });

  it('maps non-chat models to their features and unit prices (list price × 25)', () => {
    expect(price('text-embedding-3-small')).toMatchObject({ feature: 'embeddings', input: 0.5 });
    // gpt-image: $5 text in, $10 image in, $40 image out per 1M tokens; no per_image, which would count an image twice.
    expect(price('gpt-image-1')).toMatchObject({ feature: 'images', input: 125, cached_input: 31.25, image_input: 250, output: 1000 });
    expect(price('gpt-image-1').per_image).toBeUndefined();
    expect(price('gpt-image-1-mini')).toMatchObject({ input: 50, image_input: 62.5, output: 200 });
    // dall-e: per image at the standard 1024×1024 price ($0.020, $0.040).
    expect(price('dall-e-2')).toMatchObject({ feature: 'images', per_image: 0.5 });
    expect(price('dall-e-3')).toMatchObject({ feature: 'images', per_image: 1 });
    expect(price('whisper-1')).toMatchObject({ feature: 'audio', per_audio_second: 0.0025 }); // $0.006 a minute
    // gpt-4o transcribe: $2.50 text in, $6 audio in, $10 out; per second only for answers without usage.
    expect(price('gpt-4o-transcribe')).toMatchObject({ feature: 'audio', input: 62.5, audio_input: 150, output: 250, per_audio_second: 0.0025 });
    expect(price('gpt-4o-mini-transcribe')).toMatchObject({ input: 31.25, audio_input: 75, output: 125, per_audio_second: 0.00125 });
    expect(price('tts-1')).toMatchObject({ feature: 'audio', per_character: 0.000375 }); // $15 per 1M characters
    expect(price('tts-1-hd')).toMatchObject({ per_character: 0.00075 }); // $30
    expect(price('tts-1-hd-1106')).toMatchObject({ per_character: 0.00075 });
    expect(price('tts-1-1106')).toMatchObject({ per_character: 0.000375 });
    // gpt-4o-mini-tts is a token model ($0.60 text in, $12 audio out), not gpt-4o-mini's chat price.
    expect(price('gpt-4o-mini-tts')).toMatchObject({ feature: 'audio', input: 15, output: 300 });
    expect(price('omni-moderation-latest')).toMatchObject({ input: 0, output: 0 });
    expect(price('text-moderation-stable')).toMatchObject({ input: 0, output: 0 });
    expect(price('gpt-3.5-turbo-instruct')).toMatchObject({ input: 37.5, output: 50 });
  });

  it('prices Anthropic cache writes at 1.25× and cache reads at 0.1× input', () => {
    const claude = Object.entries(shippedCard.models).filter(([name]) => name.startsWith('claude-'));
    expect(claude.length).toBeGreaterThanOrEqual(5);
    for (const [, r] of claude) {
      expect(r.cache_write).toBeCloseTo(r.input * 1.25, 9);
      expect(r.cached_input).toBeCloseTo(r.input * 0.1, 9);
    }
  });

  it('refuses unknown models and variants it cannot price correctly', () => {
    expect(findModelRate(shippedCard, 'llama-3-70b')).toBeNull();
    expect(findModelRate(shippedCard, 'gpt-4o-mini-realtime-preview')).toBeNull(); // not a chat-token model
  });
});
