/**
 * The hand-kept overlay (overlay.json): prices the catalogue lacks, each with its source, in USD as
 * the sources state them. An entry either stands alone (a model the catalogue does not list) or adds
 * prices to a model the catalogue lists under the same card key (e.g. a per-second price beside its
 * token prices); it never overrides a catalogue price (generate.ts refuses that).
 */
import { readFileSync } from 'node:fs';
import { longContextSchema } from '../../shared/rateCard';
import * as z from '../../shared/zod';

const usd = z.optional(z.number().check(z.nonnegative()));

/** The card's price fields, in USD: per 1M tokens for tokens, per unit for per_*. */
const usdRateSchema = z.strictObject({
  input: usd,
  cached_input: usd,
  cache_write: usd,
  cache_write_1h: usd,
  output: usd,
  image_input: usd,
  audio_input: usd,
  per_image: usd,
  per_audio_second: usd,
  per_character: usd,
  long_context: z.optional(longContextSchema),
});

const overlayEntrySchema = z.strictObject({
  vendor: z.enum(['openai', 'anthropic']),
  /** The plans' feature (default: by model name, as for catalogue models). */
  feature: z.optional(z.string().check(z.minLength(1))),
  /** More card keys with the same prices (dated snapshots). */
  also: z._default(z.array(z.string().check(z.minLength(1))), []),
  /** Where the price comes from: a vendor page, and what it says. */
  source: z.string().check(z.minLength(20)),
  usd: usdRateSchema,
});

export const overlaySchema = z.strictObject({
  $comment: z.optional(z.string()),
  /** When the entries were last checked against their sources; part of the card's version. */
  checked: z.iso.date(),
  models: z.record(z.string().check(z.minLength(1)), overlayEntrySchema),
});

export type Overlay = z.infer<typeof overlaySchema>;
export type OverlayEntry = z.infer<typeof overlayEntrySchema>;
export type UsdRate = z.infer<typeof usdRateSchema>;

export const OVERLAY_FILE = new URL('overlay.json', import.meta.url);

export function loadOverlay(): Overlay {
  const result = overlaySchema.safeParse(JSON.parse(readFileSync(OVERLAY_FILE, 'utf8')));
  if (!result.success) throw new Error(`scripts/rate-card/overlay.json: ${z.prettifyError(result.error)}`);
  return result.data;
}
