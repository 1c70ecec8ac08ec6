/**
 * How far one admitted request may go. The ledger says what the account can still pay
 * (`spendable`: the allowance left, plus usable credits); this module turns that into the request's
 * output cap (the tokens the rest can pay for once the input is paid) or a refusal when even the input
 * cannot be paid. With the cap forwarded as the request's own output limit, the upstream itself stops
 * at the bound; the gateway also ends a stream whose metered cost passes `spendable` (an upstream that
 * ignores the limit), so a request costs at most `spendable + margin`: the margin covers a prompt that
 * tokenises longer than estimated and the stream's last event.
 */
import type { Micro } from '../../shared/money';
import type { ModelRate } from '../../shared/rateCard';
import type { Vendor } from '../../shared/usage';
import { costOf } from './cost';
import { ratesForPrompt } from './longContext';

/**
 * The input estimate is the calibrated one (chars per token learned from this model's real counts);
 * real prompts tokenise a little differently, so the bound counts a quarter more. Cache writes can
 * cost more than plain input (1.25× for 5 minutes, 2× for an hour), so the dearest of those prices is
 * used, at the long-context rates when the counted prompt is past the model's threshold.
 */
const INPUT_SAFETY_NUM = 5;
const INPUT_SAFETY_DEN = 4;

export type SpendBound =
  | { ok: false; inputCost: Micro }
  | {
      ok: true;
      /**
       * Output tokens the account can pay for, or null when output is free or no cap is needed (the
       * request's own limit, or else the model's, is within what it can pay).
       */
      outputCap: number | null;
      /** The most the request may cost: what is left plus the margin. */
      costCap: Micro;
      /** The conservative input cost the cap was computed from. */
      inputCost: Micro;
      /** The output price the cap was computed at (the long-context one past the threshold). */
      outputPrice: number;
    };

export interface SpendBoundRequest {
  rate: ModelRate;
  vendor: Vendor;
  /** Estimated input tokens (estimator.ts). */
  inputTokens: number;
  /** What the request's units (images, characters, audio seconds) cost, known before it is sent. */
  unitCost?: Micro;
  /** The request's own output limit, when it sent one. */
  requestedOutputTokens: number | null;
  /**
   * The model's maximum output (the rate card's `max_output_tokens`), as the limit of a request that
   * sent none; null when unknown or not to be relied on (streams, which the gateway ends itself).
   */
  modelMaxOutputTokens?: number | null;
  spendable: Micro;
  margin: Micro;
}

/**
 * Output tokens no single answer reaches: a request that can pay for its input and this much output
 * at once needs no cap, and is cleared without pricing it exactly.
 */
const NO_ANSWER_IS_LONGER = 1_000_000;

export function spendBound(req: SpendBoundRequest): SpendBound {
  const inputTokens = Math.ceil((req.inputTokens * INPUT_SAFETY_NUM) / INPUT_SAFETY_DEN);
  const rate = ratesForPrompt(req.rate, inputTokens);
  const inputPrice = Math.max(rate.input, rate.cache_write ?? rate.input, rate.cache_write_1h ?? rate.input);
  // The longest answer the request can get: its own limit, else the model's.
  const outputLimit = req.requestedOutputTokens ?? req.modelMaxOutputTokens ?? null;
  // Most requests run far from the account's limit: a float upper bound (twice the conservative input
  // at its dearest price, and the longest possible answer) clears them without an exact sum.
  const longestAnswer = Math.min(outputLimit ?? NO_ANSWER_IS_LONGER, NO_ANSWER_IS_LONGER);
  const worstCase = (req.unitCost ?? 0) + 2 * inputTokens * inputPrice + longestAnswer * rate.output;
  if (worstCase <= req.spendable) return { ok: true, outputCap: null, costCap: req.spendable + req.margin, inputCost: 0, outputPrice: rate.output };
  const dearestInput: ModelRate = { ...rate, input: inputPrice, long_context: undefined };
  const inputCost = (req.unitCost ?? 0) + costOf(dearestInput, { vendor: req.vendor, inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 });
  const costCap = req.spendable + req.margin;
  if (inputCost > costCap) return { ok: false, inputCost };
  // Prices are credits per 1M tokens, so one output token costs `output` micro-credits.
  if (rate.output <= 0) return { ok: true, outputCap: null, costCap, inputCost, outputPrice: rate.output };
  const affordable = Math.max(1, Math.floor((req.spendable - Math.min(inputCost, req.spendable)) / rate.output));
  const binding = outputLimit === null || outputLimit > affordable;
  return { ok: true, outputCap: binding ? affordable : null, costCap, inputCost, outputPrice: rate.output };
}
