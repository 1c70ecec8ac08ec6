/**
 * One catalogue model's prices (USD per 1M tokens, per hour of audio, ...) as a rate-card rate
 * (credits: USD ÷ creditUsd). Each catalogue price key is either mapped, folded into a dearer one,
 * or left out for a stated reason; a key this does not know stops the build, so a catalogue update
 * that adds a kind of price (e.g. priority processing) is looked at rather than silently dropped.
 */
import type { LongContextRate, ModelRate } from '../../shared/rateCard';
import type { CataloguePrices, TieredPrice } from './catalogue';

type TokenField = 'input' | 'cached_input' | 'cache_write' | 'cache_write_1h' | 'output' | 'image_input' | 'audio_input';

/** Per-1M-token prices with a field of their own on the card. */
const TOKEN_FIELDS: Record<string, TokenField> = {
  input_mtok: 'input',
  cache_read_mtok: 'cached_input',
  cache_write_mtok: 'cache_write',
  cache_write_1h_mtok: 'cache_write_1h',
  output_mtok: 'output',
  input_image_mtok: 'image_input',
  input_audio_mtok: 'audio_input',
};

/**
 * Output tokens the gateway does not meter apart from text output (the usage it reads has one output
 * count): output is priced at the dearer of the two, erring towards the vendor's bill.
 */
const DEARER_OUTPUT = new Set(['output_image_mtok', 'output_audio_mtok']);

/** Prices the card leaves out, and why. */
export const LEFT_OUT: Record<string, string> = {
  web_searches_kcount: 'tool calls (web search) are not metered',
  storage_searches_kcount: 'tool calls (file search) are not metered',
  cache_audio_read_mtok: 'cached audio tokens are not reported apart from cached text (realtime only)',
  cache_image_read_mtok: 'cached image tokens are not reported apart from cached text',
  input_audio_hours: 'the same price as audio_hours, for its input part',
};

const AUDIO_HOURS = 'audio_hours';
const SECONDS_PER_HOUR = 3_600;

/** Fields the long-context tier may set (the card's `long_context`). */
const LONG_CONTEXT_FIELDS = new Set<TokenField>(['input', 'cached_input', 'cache_write', 'cache_write_1h', 'output']);

/** What kind of use a model is, for the plans' features: by the catalogue's model id. */
const FEATURES: readonly [RegExp, string][] = [
  [/^text-embedding/, 'embeddings'],
  [/^(gpt-image|dall-e)/, 'images'],
  [/whisper|transcribe|tts|^gpt-audio|realtime/, 'audio'],
];

export function featureOf(modelId: string): string {
  return FEATURES.find(([pattern]) => pattern.test(modelId))?.[1] ?? 'assistant';
}

/** USD as credits, without the float noise of the division (0.175 / 0.04 is 4.374999…). */
export function toCredits(usd: number, creditUsd: number): number {
  return Number((usd / creditUsd).toPrecision(12));
}

export function rateFromCatalogue(modelId: string, prices: CataloguePrices, creditUsd: number): ModelRate {
  const base: Partial<Record<TokenField, number>> = {};
  const long: Partial<Record<TokenField, number>> = {};
  let threshold: number | null = null;
  let perAudioSecond: number | undefined;

  const setField = (field: TokenField, price: number | TieredPrice, key: string): void => {
    if (typeof price === 'number') {
      base[field] = Math.max(base[field] ?? 0, toCredits(price, creditUsd));
      return;
    }
    const [tier, ...more] = price.tiers;
    if (!tier || more.length > 0 || !LONG_CONTEXT_FIELDS.has(field) || (threshold !== null && threshold !== tier.start)) {
      throw new Error(`catalogue model "${modelId}": ${key} has tiers the card cannot express (one long-context threshold per model)`);
    }
    threshold = tier.start;
    base[field] = Math.max(base[field] ?? 0, toCredits(price.base, creditUsd));
    long[field] = Math.max(long[field] ?? 0, toCredits(tier.price, creditUsd));
  };

  for (const [key, price] of Object.entries(prices)) {
    const field = TOKEN_FIELDS[key] ?? (DEARER_OUTPUT.has(key) ? 'output' : undefined);
    if (field) setField(field, price, key);
    else if (key === AUDIO_HOURS && typeof price === 'number') perAudioSecond = toCredits(price / SECONDS_PER_HOUR, creditUsd);
    else if (!(key in LEFT_OUT)) throw new Error(`catalogue model "${modelId}": price "${key}" is not known to the rate-card generator`);
  }

  const rate: ModelRate = { feature: featureOf(modelId), input: base.input ?? 0, output: base.output ?? 0 };
  for (const field of ['cached_input', 'cache_write', 'cache_write_1h', 'image_input', 'audio_input'] as const) {
    if (base[field] !== undefined) rate[field] = base[field];
  }
  if (perAudioSecond !== undefined) rate.per_audio_second = perAudioSecond;
  if (threshold !== null) rate.long_context = longContext(threshold, base, long);
  return rate;
}

/** Every text price of the base rate at its long-context value (the base value where it has none). */
function longContext(threshold: number, base: Partial<Record<TokenField, number>>, long: Partial<Record<TokenField, number>>): LongContextRate {
  const tier: LongContextRate = { above_input_tokens: threshold, input: long.input ?? base.input ?? 0, output: long.output ?? base.output ?? 0 };
  for (const field of ['cached_input', 'cache_write', 'cache_write_1h'] as const) {
    const price = long[field] ?? base[field];
    if (price !== undefined) tier[field] = price;
  }
  return tier;
}
