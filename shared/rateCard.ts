/**
 * The rate card (SPEC §6): versioned JSON mapping models (exact names or globs) to credit prices.
 * Token prices are credits per 1,000,000 tokens; other features are priced per unit.
 */
import { ownValue } from './ownProperty';
import * as z from './zod';

// z.number() already refuses Infinity and NaN.
const price = z.number().check(z.nonnegative());

export const modelRateSchema = z.strictObject({
  feature: z._default(z.string().check(z.minLength(1)), 'assistant'),
  input: z._default(price, 0),
  cached_input: z.optional(price),
  cache_write: z.optional(price),
  output: z._default(price, 0),
  /** Image and audio input tokens, where the vendor prices them apart from text input (default: input). */
  image_input: z.optional(price),
  audio_input: z.optional(price),
  per_image: z.optional(price),
  per_audio_second: z.optional(price),
  per_character: z.optional(price),
});

export const packSchema = z.strictObject({
  credits: z.number().check(z.positive()),
  usd: z.number().check(z.nonnegative()),
  label: z.optional(z.string()),
});

export const rateCardSchema = z.strictObject({
  version: z.string().check(z.minLength(1)),
  creditUsd: z.number().check(z.positive()),
  models: z.record(z.string().check(z.minLength(1)), modelRateSchema),
  default: z._default(z.nullable(modelRateSchema), null),
  packs: z._default(z.array(packSchema), []),
});

export type ModelRate = z.infer<typeof modelRateSchema>;
export type RateCard = z.infer<typeof rateCardSchema>;
export type CreditPack = z.infer<typeof packSchema>;

const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Lookups per card: a request's model resolves through globs once, not once per request. */
const lookups = new WeakMap<RateCard, Map<string, ModelRate | null>>();

/**
 * Finds the rate for a model: an exact name wins, then the longest matching glob, then `default`.
 * Returns null when nothing matches and the card has no default (the caller refuses with a 400).
 * Cards are treated as immutable once in use: answers are cached per card object.
 */
export function findModelRate(card: RateCard, model: string): ModelRate | null {
  let cache = lookups.get(card);
  if (!cache) lookups.set(card, (cache = new Map<string, ModelRate | null>()));
  let rate = cache.get(model);
  if (rate === undefined) {
    rate = matchModelRate(card, model);
    // Model names come from clients: keep the cache bounded however many distinct names arrive.
    if (cache.size >= 1_000) cache.clear();
    cache.set(model, rate);
  }
  return rate;
}

function matchModelRate(card: RateCard, model: string): ModelRate | null {
  // Model names come from clients: `__proto__` or `constructor` must not find Object.prototype's members.
  const exact = ownValue(card.models, model);
  if (exact && !isGlob(model)) return exact;
  let best: { length: number; rate: ModelRate } | null = null;
  for (const [pattern, rate] of Object.entries(card.models)) {
    if (!isGlob(pattern) || !globToRegExp(pattern).test(model)) continue;
    if (!best || pattern.length > best.length) best = { length: pattern.length, rate };
  }
  return best?.rate ?? card.default;
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
