/** Looking up a model's price, with the refusal the gateway turns into a 400 (docs/product.md §1). */
import type { ModelRate, RateCard } from '../../shared/rateCard';
import { findModelRate } from '../../shared/rateCard';
import type { Vendor } from '../../shared/usage';

export type RateLookup = { ok: true; rate: ModelRate } | { ok: false; message: string };

export function resolveRate(card: RateCard, model: string, vendor: Vendor): RateLookup {
  const rate = findModelRate(card, model, vendor);
  if (rate) return { ok: true, rate };
  return {
    ok: false,
    message:
      `The model '${model}' is not on Creditgate's rate card (version ${card.version}), so it cannot be metered. ` +
      'Use a listed model, or add it (or a "default" entry) to the rate card in the Creditgate config.',
  };
}
