/**
 * Prices one request from the vendor's usage figures (SPEC §6), rounding once, half up, to whole
 * micro-credits. Prices are credits per 1M tokens, so a token at price P costs P micro-credits:
 * the sum below is already in micro-credits and only the final total is rounded.
 */
import type { Micro } from '../../shared/money';
import { MICRO_PER_CREDIT } from '../../shared/money';
import type { ModelRate } from '../../shared/rateCard';
import type { MeteredUsage } from '../../shared/usage';

export function costOf(rate: ModelRate, usage: MeteredUsage): Micro {
  const cachedPrice = rate.cached_input ?? rate.input;
  const cacheWritePrice = rate.cache_write ?? rate.input;
  let micro: number;
  if (usage.vendor === 'openai') {
    // OpenAI: input includes cached tokens; output includes reasoning tokens.
    const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
    micro = (usage.inputTokens - cached) * rate.input + cached * cachedPrice + usage.outputTokens * rate.output;
  } else {
    // Anthropic: input excludes cache reads and writes, which are priced on their own.
    micro =
      usage.inputTokens * rate.input +
      usage.cachedInputTokens * cachedPrice +
      usage.cacheWriteTokens * cacheWritePrice +
      usage.outputTokens * rate.output;
  }
  // Per-unit prices are credits per unit, so they scale by a million to micro-credits.
  micro += (usage.images ?? 0) * (rate.per_image ?? 0) * MICRO_PER_CREDIT;
  micro += (usage.audioSeconds ?? 0) * (rate.per_audio_second ?? 0) * MICRO_PER_CREDIT;
  micro += (usage.characters ?? 0) * (rate.per_character ?? 0) * MICRO_PER_CREDIT;
  return roundHalfUp(micro);
}

/** Half-up rounding that is robust to binary noise such as 2.4999999999 for an exact 2.5. */
function roundHalfUp(value: number): Micro {
  return Math.floor(value + 0.5 + 1e-9);
}
