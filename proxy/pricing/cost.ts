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
    addTerm(terms, rate.input, usage.inputTokens - cached - written - image - audio);
    addTerm(terms, cachedPrice, cached);
    addTerm(terms, cacheWritePrice, written);
    addTerm(terms, rate.image_input ?? rate.input, image);
    addTerm(terms, rate.audio_input ?? rate.input, audio);
    addTerm(terms, rate.output, usage.outputTokens);
  } else {
    // Anthropic: input excludes cache reads and writes, which are priced on their own; 1-hour cache
    // writes are a part of the writes.
    const writtenForAnHour = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
    addTerm(terms, rate.input, usage.inputTokens);
    addTerm(terms, cachedPrice, usage.cachedInputTokens);
    addTerm(terms, cacheWritePrice, usage.cacheWriteTokens - writtenForAnHour);
    addTerm(terms, rate.cache_write_1h ?? cacheWritePrice, writtenForAnHour);
    addTerm(terms, rate.output, usage.outputTokens);
  }
  addTerm(terms, rate.per_image ?? 0, usage.images ?? 0, MICRO_SHIFT);
  addTerm(terms, rate.per_audio_second ?? 0, usage.audioSeconds ?? 0, MICRO_SHIFT);
  addTerm(terms, rate.per_character ?? 0, usage.characters ?? 0, MICRO_SHIFT);
  return sumRoundedHalfUp(terms);
}

/**
 * Adds a term that can cost something. Both sums skip the others anyway (decimal.ts); leaving them
 * out spares most of a request's ten term objects, every request being priced two or three times.
 */
function addTerm(terms: Term[], price: number, quantity: number, shift = 0): void {
  if (price !== 0 && quantity !== 0) terms.push({ price, quantity, shift });
}
