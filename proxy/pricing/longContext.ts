/**
 * Long-context pricing: past a model's threshold of prompt tokens the vendors bill the whole request
 * at dearer rates (OpenAI above 272K input tokens, Anthropic's older models above 200K). The rate card
 * carries the dearer rates as `long_context`; this picks the rates a request of a given size pays.
 */
import type { ModelRate } from '../../shared/rateCard';
import type { MeteredUsage } from '../../shared/usage';

/** The rate with its long-context prices in place, made once per rate (this runs on every request). */
const longRates = new WeakMap<ModelRate, ModelRate>();

/** The rates a request whose prompt has `promptTokens` tokens pays. */
export function ratesForPrompt(rate: ModelRate, promptTokens: number): ModelRate {
  const tier = rate.long_context;
  if (!tier || promptTokens <= tier.above_input_tokens) return rate;
  let long = longRates.get(rate);
  if (!long) {
    const { above_input_tokens: _threshold, ...prices } = tier;
    // A price the tier leaves out keeps its base value.
    long = { ...rate, ...prices, long_context: undefined };
    longRates.set(rate, long);
  }
  return long;
}

/** Every input token of the request, however the vendor splits them: what the thresholds count. */
export function promptTokensOf(usage: MeteredUsage): number {
  // OpenAI's input already includes cache reads and writes; Anthropic reports them apart.
  return usage.vendor === 'openai' ? usage.inputTokens : usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
}
