/**
 * Makes the shipped rate card (shared/default-rate-card.json) from the price catalogue, the models'
 * output limits (outputLimits.ts) and the hand-kept overlay. The card keeps its shape and its rule (exact name, then longest glob); this
 * checks that the rule finds, for every name the catalogue's rules mention, the model the catalogue
 * itself would price it as, and stops the build where the two would disagree. Same inputs, same
 * bytes: nothing here reads the clock or the environment.
 */
import type { CreditPack, LongContextRate, ModelRate, RateCard } from '../../shared/rateCard';
import { priceModel, rateCardSchema } from '../../shared/rateCard';
import type { Vendor } from '../../shared/usage';
import type { Catalogue } from './catalogue';
import { featureOf, rateFromCatalogue, toCredits } from './catalogueRates';
import type { OutputLimit } from './outputLimits';
import type { Overlay, OverlayEntry } from './overlay';
import { cardPatterns, sampleName } from './patterns';
import { renderRateCard } from './render';

/** 1 credit = $0.04: credits per 1M tokens are the USD list price × 25. */
export const CREDIT_USD = 0.04;

export const PACKS: CreditPack[] = [
  { credits: 100, usd: 4, label: '100 credits' },
  { credits: 500, usd: 20, label: '500 credits' },
  { credits: 1000, usd: 40, label: '1,000 credits' },
];

interface Entry {
  vendor: Vendor;
  rate: ModelRate;
  /** The catalogue model it came from, or null for an overlay entry of its own. */
  catalogueId: string | null;
}

export function generateRateCard(catalogue: Catalogue, overlay: Overlay, outputLimits: readonly OutputLimit[] = []): string {
  const entries = new Map<string, Entry>();
  const limits = outputLimitsByModel(catalogue, outputLimits);
  for (const model of catalogue.models) {
    const limit = limits.get(`${model.vendor}:${model.id}`);
    const rate = rateFromCatalogue(model.id, model.prices, CREDIT_USD);
    const entry: Entry = { vendor: model.vendor, rate: limit === undefined ? rate : { ...rate, max_output_tokens: limit }, catalogueId: model.id };
    // The catalogue's first match wins: a key an earlier model claimed stays with it.
    for (const key of cardPatterns(model.match, model.id)) if (!entries.has(key)) entries.set(key, entry);
  }
  for (const [id, overlayEntry] of Object.entries(overlay.models)) addOverlay(entries, catalogue, id, overlayEntry);

  const models = Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, e]) => [key, e.rate]));
  const card: RateCard = {
    // The overlay's check date and the catalogue's version: either changing makes a new card.
    version: `${overlay.checked}+${catalogue.name.replace(/^@[^/]+\//, '')}-${catalogue.version}`,
    catalogue: { name: catalogue.name, version: catalogue.version },
    creditUsd: CREDIT_USD,
    models,
    default: { openai: dearestListed(entries, 'openai'), anthropic: dearestListed(entries, 'anthropic') },
    packs: PACKS,
  };
  checkAgainstCatalogue(card, entries, catalogue);
  const text = renderRateCard(card);
  rateCardSchema.parse(JSON.parse(text));
  return text;
}

/**
 * Each price-catalogue model's output limit: the limits of the model ids the price catalogue itself
 * prices as that model (its own matching, as the card is checked against). Where several ids (an alias,
 * dated snapshots) disagree, the lowest: a lower limit is one every one of them accepts.
 */
function outputLimitsByModel(catalogue: Catalogue, outputLimits: readonly OutputLimit[]): Map<string, number> {
  const byModel = new Map<string, number>();
  for (const { vendor, id, output } of outputLimits) {
    const model = catalogue.modelFor(vendor, id);
    if (!model) continue;
    const key = `${vendor}:${model.id}`;
    byModel.set(key, Math.min(byModel.get(key) ?? output, output));
  }
  return byModel;
}

function addOverlay(entries: Map<string, Entry>, catalogue: Catalogue, id: string, overlayEntry: OverlayEntry): void {
  const prices = overlayPrices(overlayEntry);
  for (const key of [id, ...overlayEntry.also]) {
    const listed = entries.get(key);
    if (listed?.catalogueId) {
      // Adds prices the catalogue lacks to a model it lists; a price both give is the catalogue's.
      if (overlayEntry.feature !== undefined) throw new Error(`overlay "${id}": the catalogue lists ${key}; its feature is not the overlay's to set`);
      for (const field of Object.keys(prices) as (keyof ModelRate)[]) {
        if (listed.rate[field] !== undefined) {
          throw new Error(`overlay "${id}": the catalogue now prices ${key}'s ${field}; remove it from scripts/rate-card/overlay.json`);
        }
      }
      entries.set(key, { ...listed, rate: { ...listed.rate, ...prices } });
      continue;
    }
    if (listed) throw new Error(`overlay "${id}": the card key ${key} is given twice in the overlay`);
    const priced = catalogue.modelFor(overlayEntry.vendor, sampleName(key));
    if (priced) {
      throw new Error(`overlay "${id}": ${catalogue.name} ${catalogue.version} now prices ${key} (as ${priced.id}); remove it from scripts/rate-card/overlay.json`);
    }
    const rate: ModelRate = { feature: overlayEntry.feature ?? featureOf(id), input: 0, output: 0, ...prices };
    entries.set(key, { vendor: overlayEntry.vendor, rate, catalogueId: null });
  }
}

/** The prices an overlay entry gives, in credits. */
function overlayPrices(entry: OverlayEntry): Partial<ModelRate> {
  const { long_context: tier, ...usd } = entry.usd;
  const prices: Partial<ModelRate> = {};
  for (const [field, price] of Object.entries(usd) as [keyof typeof usd, number | undefined][]) {
    if (price !== undefined) prices[field] = toCredits(price, CREDIT_USD);
  }
  if (tier) {
    const { above_input_tokens, ...tierUsd } = tier;
    const tierPrices = Object.entries(tierUsd).map(([field, price]) => [field, price === undefined ? undefined : toCredits(price, CREDIT_USD)]);
    prices.long_context = { above_input_tokens, ...Object.fromEntries(tierPrices.filter(([, price]) => price !== undefined)) } as LongContextRate;
  }
  return prices;
}

/**
 * The price of a model the card does not list, per vendor: the vendor's dearest listed chat model
 * (by output price, then input), so an unknown model is never billed below what it may cost.
 */
function dearestListed(entries: Map<string, Entry>, vendor: Vendor): ModelRate {
  const perUnit = (rate: ModelRate): boolean => rate.per_image !== undefined || rate.per_audio_second !== undefined || rate.per_character !== undefined;
  let dearest: ModelRate | null = null;
  for (const [, { vendor: of, rate }] of [...entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (of !== vendor || rate.feature !== 'assistant' || perUnit(rate)) continue;
    if (!dearest || rate.output > dearest.output || (rate.output === dearest.output && rate.input > dearest.input)) dearest = rate;
  }
  if (!dearest) throw new Error(`no ${vendor} chat model to price ${vendor}'s unknown models at`);
  return dearest;
}

/**
 * Every name a catalogue rule mentions (and every overlay key) must find, by the card's rule, the
 * entry of the model the catalogue picks for it (its first match), or the overlay's own entry.
 */
function checkAgainstCatalogue(card: RateCard, entries: Map<string, Entry>, catalogue: Catalogue): void {
  const entryOf = new Map<ModelRate, Entry>([...entries.values()].map((e) => [e.rate, e]));
  const problems: string[] = [];
  const expect = (vendor: Vendor, name: string, wanted: (e: Entry | undefined) => boolean, what: string): void => {
    const found = priceModel(card, name, vendor);
    const entry = found?.listed ? entryOf.get(found.rate) : undefined;
    if (!wanted(entry)) problems.push(`${name}: the card finds ${entry?.catalogueId ?? (entry ? 'an overlay entry' : 'nothing')}, the catalogue ${what}`);
  };
  for (const model of catalogue.models) {
    for (const name of cardPatterns(model.match, model.id).map(sampleName)) {
      const picked = catalogue.modelFor(model.vendor, name);
      expect(model.vendor, name, (e) => e?.catalogueId === (picked?.id ?? null), picked ? `picks ${picked.id}` : 'prices nothing');
    }
  }
  for (const [key, entry] of entries) {
    if (entry.catalogueId === null) expect(entry.vendor, sampleName(key), (e) => e === entry, `leaves it to the overlay's ${key}`);
  }
  if (problems.length > 0) throw new Error(`the rate card would price these names unlike the catalogue:\n${problems.join('\n')}`);
}
