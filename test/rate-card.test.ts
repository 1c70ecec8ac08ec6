import { describe, expect, it } from 'vitest';
import type { ModelRate, RateCard } from '../shared/rateCard';
import { describeIssues, findModelRate, isListed, priceModel, rateCardSchema } from '../shared/rateCard';
import { resolveRate } from '../proxy/pricing/rates';

const rate = (input: number): ModelRate => ({ feature: 'assistant', input, output: 0 });

function card(models: Record<string, ModelRate>, fallback: RateCard['default'] = null): RateCard {
  return { version: 't', creditUsd: 0.04, models, default: fallback, packs: [] };
}

describe('rate-card matching', () => {
  const models = { 'gpt-5*': rate(1), 'gpt-5-c*': rate(2), 'gpt-5-codex': rate(3), 'gpt-5-codex*': rate(4) };

  it('prefers an exact name over every glob, even a longer one', () => {
    expect(findModelRate(card(models), 'gpt-5-codex', 'openai')?.input).toBe(3);
  });

  it('picks the longest matching glob among globs', () => {
    expect(findModelRate(card(models), 'gpt-5-codex-max', 'openai')?.input).toBe(4);
    expect(findModelRate(card(models), 'gpt-5-chat', 'openai')?.input).toBe(2);
    expect(findModelRate(card(models), 'gpt-5.1', 'openai')?.input).toBe(1);
  });

  it('falls back to default, and refuses when default is null', () => {
    expect(findModelRate(card(models, rate(9)), 'llama-3', 'openai')?.input).toBe(9);
    expect(findModelRate(card(models, null), 'llama-3', 'openai')).toBeNull();
    const refused = resolveRate(card(models, null), 'llama-3', 'openai');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.message).toMatch(/'llama-3' is not on .*rate card \(version t\)/);
  });

  it('treats only * and ? as wildcards (a dot is literal)', () => {
    const globs = card({ 'gpt-4.1*': rate(1), 'o?-mini': rate(2) });
    expect(findModelRate(globs, 'gpt-4x1', 'openai')).toBeNull();
    expect(findModelRate(globs, 'gpt-4.1-mini', 'openai')?.input).toBe(1);
    expect(findModelRate(globs, 'o4-mini', 'openai')?.input).toBe(2);
    expect(findModelRate(globs, 'o44-mini', 'openai')).toBeNull();
  });

  it('says whether the card lists a model or its default priced it', () => {
    const priced = card(models, rate(9));
    expect(priceModel(priced, 'gpt-5-codex', 'openai')).toEqual({ rate: rate(3), listed: true });
    expect(priceModel(priced, 'llama-3', 'openai')).toEqual({ rate: rate(9), listed: false });
    expect(isListed(priced, 'gpt-5.1')).toBe(true);
    expect(isListed(priced, 'llama-3')).toBe(false);
  });

  it('prices an unknown model at the default of the vendor whose API it came through', () => {
    const perVendor = card(models, { openai: rate(7), anthropic: rate(8) });
    expect(priceModel(perVendor, 'claude-next', 'anthropic')).toEqual({ rate: rate(8), listed: false });
    expect(priceModel(perVendor, 'claude-next', 'openai')).toEqual({ rate: rate(7), listed: false });
    expect(priceModel(perVendor, 'gpt-5-codex', 'anthropic')).toEqual({ rate: rate(3), listed: true });
    // One vendor's unknown models can be refused while the other's are priced.
    const onlyOpenAi = card(models, { openai: rate(7), anthropic: null });
    expect(priceModel(onlyOpenAi, 'claude-next', 'anthropic')).toBeNull();
    expect(priceModel(onlyOpenAi, 'gpt-7', 'openai')?.rate).toEqual(rate(7));
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

  it('reads a per-vendor default and a long-context tier', () => {
    const parsed = rateCardSchema.parse({
      version: 'v',
      creditUsd: 0.04,
      models: { m: { input: 1, output: 2, cache_write_1h: 3, long_context: { above_input_tokens: 272_000, input: 2, output: 3 } } },
      default: { openai: { input: 9 }, anthropic: null },
    });
    expect(parsed.default).toEqual({ openai: { feature: 'assistant', input: 9, output: 0 }, anthropic: null });
    expect(parsed.models.m?.long_context).toEqual({ above_input_tokens: 272_000, input: 2, output: 3 });
  });

  it('reads a per-vendor default that names one vendor as refusing the other', () => {
    const parsed = rateCardSchema.parse({ version: 'v', creditUsd: 0.04, models: {}, default: { anthropic: { input: 9 } } });
    expect(parsed.default).toEqual({ openai: null, anthropic: { feature: 'assistant', input: 9, output: 0 } });
    expect(priceModel(parsed, 'gpt-7', 'openai')).toBeNull();
  });

  it('refuses a long-context threshold that is not a whole number of tokens', () => {
    const result = rateCardSchema.safeParse({ version: 'v', creditUsd: 0.04, models: { m: { long_context: { above_input_tokens: 1.5, input: 1, output: 1 } } } });
    expect(result.success).toBe(false);
  });
});
