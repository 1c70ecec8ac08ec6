/**
 * The rate card (docs/product.md §6): versioned JSON mapping models (exact names or globs) to credit prices.
 * Token prices are credits per 1,000,000 tokens; other features are priced per unit.
 */
import { ownValue } from './ownProperty';
import type { Vendor } from './usage';
import * as z from './zod';

// z.number() already refuses Infinity and NaN.
const price = z.number().check(z.nonnegative());

/**
 * Prices for a whole request whose prompt is longer than `above_input_tokens` (the vendors bill every
 * token of such a request at the dearer rate, not only the tokens past the threshold). The prompt is
 * every input token, cache reads and writes included.
 */
export const longContextSchema = z.strictObject({
  above_input_tokens: z.int().check(z.positive()),
  input: price,
  cached_input: z.optional(price),
  cache_write: z.optional(price),
  cache_write_1h: z.optional(price),
  output: price,
});

export const modelRateSchema = z.strictObject({
  feature: z._default(z.string().check(z.minLength(1)), 'assistant'),
  input: z._default(price, 0),
  cached_input: z.optional(price),
  /** Cache writes: Anthropic's 5-minute ones, OpenAI's (default: input). */
  cache_write: z.optional(price),
  /** Anthropic's 1-hour cache writes (default: cache_write). */
  cache_write_1h: z.optional(price),
  output: z._default(price, 0),
  /** Image and audio input tokens, where the vendor prices them apart from text input (default: input). */
  image_input: z.optional(price),
  audio_input: z.optional(price),
  per_image: z.optional(price),
  per_audio_second: z.optional(price),
  per_character: z.optional(price),
  long_context: z.optional(longContextSchema),
  /**
   * The most output tokens the model writes in one answer (the vendor's limit). Where it is known, a
   * non-streaming request without a limit of its own that the account cannot fully pay gets one
   * forwarded whatever its size; where it is not, only up to 16,384 tokens (a limit every model accepts).
   */
  max_output_tokens: z.optional(z.int().check(z.positive())),
});

/**
 * A default per vendor: the vendor whose API a request came through. Null, or leaving a vendor out,
 * refuses that vendor's unknown models.
 */
export const vendorDefaultsSchema = z.strictObject({
  openai: z._default(z.nullable(modelRateSchema), null),
  anthropic: z._default(z.nullable(modelRateSchema), null),
});

export const packSchema = z.strictObject({
  credits: z.number().check(z.positive()),
  usd: z.number().check(z.nonnegative()),
  label: z.optional(z.string()),
});

/**
 * Selling credits for real money on a team gateway (proxy/payments): what Stripe Checkout charges is
 * a pack's `usd`, who may start a purchase, and how much a month may be bought in all. The Stripe keys
 * are not here: they come from the gateway's environment only (never a file).
 */
export const paymentsSchema = z.strictObject({
  /** Who may buy for the pool: admin tokens only, or every member too. */
  buyers: z._default(z.enum(['admins', 'members']), 'admins'),
  /** At most this many USD of purchases per calendar month (UTC), open Checkouts included; absent: no limit. */
  monthlyLimitUsd: z.optional(z.number().check(z.positive())),
  /** Who to ask when this gateway does not sell credits, or a purchase is refused (shown in the editor). */
  contact: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  /** The org's name in Stripe's metadata (default: the database's name). */
  org: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
});

export const rateCardSchema = z.strictObject({
  version: z.string().check(z.minLength(1)),
  /** The price catalogue a generated card was made from (the shipped card's is; a hand-made one need not say). */
  catalogue: z.optional(z.strictObject({ name: z.string().check(z.minLength(1)), version: z.string().check(z.minLength(1)) })),
  creditUsd: z.number().check(z.positive()),
  models: z.record(z.string().check(z.minLength(1)), modelRateSchema),
  /** The price of a model the card does not list: one rate, one per vendor, or null to refuse it. */
  default: z._default(z.nullable(z.union([modelRateSchema, vendorDefaultsSchema])), null),
  packs: z._default(z.array(packSchema), []),
  /** Absent: admins buy, no monthly limit (the gateway still needs its Stripe keys to sell). */
  payments: z.optional(paymentsSchema),
});

export type ModelRate = z.infer<typeof modelRateSchema>;
export type LongContextRate = z.infer<typeof longContextSchema>;
export type VendorDefaults = z.infer<typeof vendorDefaultsSchema>;
export type RateCard = z.infer<typeof rateCardSchema>;
export type CreditPack = z.infer<typeof packSchema>;
export type PaymentsPolicy = z.infer<typeof paymentsSchema>;

const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** A model's price, and whether the card lists the model or its default priced it (an "unpriced" model). */
export interface ModelPrice {
  rate: ModelRate;
  listed: boolean;
}

/** Listed lookups per card: a request's model resolves through globs once, not once per request. */
const lookups = new WeakMap<RateCard, Map<string, ModelPrice | null>>();
const defaults = new WeakMap<RateCard, Record<Vendor, ModelPrice | null>>();

/**
 * Prices a model sent to `vendor`'s API: an exact name wins, then the longest matching glob, then
 * the card's default (for that vendor, when the default is given per vendor). Null when nothing
 * matches and the default is null (the caller refuses with a 400).
 * Cards are treated as immutable once in use: answers are cached per card object.
 */
export function priceModel(card: RateCard, model: string, vendor: Vendor): ModelPrice | null {
  return listedPrice(card, model) ?? defaultPrices(card)[vendor];
}

/** Whether the card lists the model (by name or glob), rather than pricing it by its default. */
export function isListed(card: RateCard, model: string): boolean {
  return listedPrice(card, model) !== null;
}

function listedPrice(card: RateCard, model: string): ModelPrice | null {
  let cache = lookups.get(card);
  if (!cache) lookups.set(card, (cache = new Map<string, ModelPrice | null>()));
  let listed = cache.get(model);
  if (listed === undefined) {
    const rate = matchListedRate(card, model);
    listed = rate && { rate, listed: true };
    // Model names come from clients: keep the cache bounded however many distinct names arrive.
    if (cache.size >= 1_000) cache.clear();
    cache.set(model, listed);
  }
  return listed;
}

/** The rate priceModel finds, without saying whether the card lists the model. */
export function findModelRate(card: RateCard, model: string, vendor: Vendor): ModelRate | null {
  return priceModel(card, model, vendor)?.rate ?? null;
}

function defaultPrices(card: RateCard): Record<Vendor, ModelPrice | null> {
  let prices = defaults.get(card);
  if (!prices) {
    const unlisted = (rate: ModelRate | null): ModelPrice | null => rate && { rate, listed: false };
    const fallback = card.default;
    prices =
      fallback !== null && isVendorDefaults(fallback)
        ? { openai: unlisted(fallback.openai), anthropic: unlisted(fallback.anthropic) }
        : { openai: unlisted(fallback), anthropic: unlisted(fallback) };
    defaults.set(card, prices);
  }
  return prices;
}

export function isVendorDefaults(fallback: ModelRate | VendorDefaults): fallback is VendorDefaults {
  return 'openai' in fallback && 'anthropic' in fallback;
}

function matchListedRate(card: RateCard, model: string): ModelRate | null {
  // Model names come from clients: `__proto__` or `constructor` must not find Object.prototype's members.
  const exact = ownValue(card.models, model);
  if (exact && !isGlob(model)) return exact;
  let best: { length: number; rate: ModelRate } | null = null;
  for (const [pattern, rate] of Object.entries(card.models)) {
    if (!isGlob(pattern) || !globToRegExp(pattern).test(model)) continue;
    if (!best || pattern.length > best.length) best = { length: pattern.length, rate };
  }
  return best?.rate ?? null;
}

/** Formats zod issues as "models.gpt-5.input: expected number" lines, naming the bad key. */
export function describeIssues(error: z.core.$ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}
