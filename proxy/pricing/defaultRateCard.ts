/**
 * The shipped rate card (shared/default-rate-card.json): OpenAI and Anthropic list prices at
 * 1 credit = $0.04, i.e. credits per 1M tokens = USD per 1M × 25. Its `default` is null on purpose:
 * an unknown model is refused with a 400 rather than billed at a guessed price. A config can replace
 * the whole card with `rateCard` or `rateCardFile` (copy the JSON as a template).
 */
import type { RateCard } from '../../shared/rateCard';
import { rateCardSchema } from '../../shared/rateCard';
import shipped from '../../shared/default-rate-card.json';

/** A fresh, validated copy each call, so no caller can mutate another's card. */
export function defaultRateCard(): RateCard {
  return rateCardSchema.parse(shipped);
}
