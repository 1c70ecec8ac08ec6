/**
 * Prices one request from the vendor's usage figures (docs/product.md §6), rounding once, half up, to whole
 * micro-credits. Prices are credits per 1M tokens, so a token at price P costs P micro-credits;
 * per-unit prices (images, audio seconds, characters) are credits per unit, so they shift by 10^6.
 * The sum is exact (see decimal.ts): float sums misround exact halves at realistic totals.
 */
import type { Micro } from '../../shared/money';
import type { ModelRate } from '../../shared/rateCard';
import type { MeteredUsage } from '../../shared/usage';
import type { Term } from './decimal';
import { sumRoundedHalfUp } from './decimal';
import { promptTokensOf, ratesForPrompt } from './longContext';

const MICRO_SHIFT = 6;

export function costOf(cardRate: ModelRate, usage: MeteredUsage): Micro {
  const rate = ratesForPrompt(cardRate, promptTokensOf(usage));
  const cachedPrice = rate.cached_input ?? rate.input;
  const cacheWritePrice = rate.cache_write ?? rate.input;
  const terms: Term[] = [];
  if (usage.vendor === 'openai') {
    // OpenAI: input includes cache reads and writes and image/audio tokens; output includes reasoning
    // tokens. Each part is clamped to what input has left, so a part never counts twice.
    const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
    const written = Math.min(usage.cacheWriteTokens, usage.inputTokens - cached);
    const image = Math.min(usage.imageInputTokens ?? 0, usage.inputTokens - cached - written);
    const audio = Math.min(usage.audioInputTokens ?? 0, usage.inputTokens - cached - written - image);
    terms.push(
      { price: rate.input, quantity: usage.inputTokens - cached - written - image - audio },
      { price: cachedPrice, quantity: cached },
      { price: cacheWritePrice, quantity: written },
      { price: rate.image_input ?? rate.input, quantity: image },
      { price: rate.audio_input ?? rate.input, quantity: audio },
      { price: rate.output, quantity: usage.outputTokens },
    );
  } else {
    // Anthropic: input excludes cache reads and writes, which are priced on their own; 1-hour cache
    // writes are a part of the writes.
    const writtenForAnHour = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
    terms.push(
      { price: rate.input, quantity: usage.inputTokens },
      { price: cachedPrice, quantity: usage.cachedInputTokens },
      { price: cacheWritePrice, quantity: usage.cacheWriteTokens - writtenForAnHour },
      { price: rate.cache_write_1h ?? cacheWritePrice, quantity: writtenForAnHour },
      { price: rate.output, quantity: usage.outputTokens },
    );
  }
  terms.push(
    { price: rate.per_image ?? 0, quantity: usage.images ?? 0, shift: MICRO_SHIFT },
    { price: rate.per_audio_second ?? 0, quantity: usage.audioSeconds ?? 0, shift: MICRO_SHIFT },
    { price: rate.per_character ?? 0, quantity: usage.characters ?? 0, shift: MICRO_SHIFT },
  );
  return sumRoundedHalfUp(terms);
}
