/**
 * The price catalogue the shipped rate card is made from: @pydantic/genai-prices, a devDependency
 * whose bundled data is read here, at build time only (nothing is fetched: the package's auto-update
 * is never enabled). Its data is checked with zod where this script relies on its shape.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ModelInfo } from '@pydantic/genai-prices';
import { calcPrice, findProvider } from '@pydantic/genai-prices';
import type { Vendor } from '../../shared/usage';
import * as z from '../../shared/zod';

export const CATALOGUE_NAME = '@pydantic/genai-prices';

/** The catalogue's provider ids for the vendors whose APIs the gateway serves. */
const PROVIDER_IDS: Record<Vendor, string> = { openai: 'openai', anthropic: 'anthropic' };
export const VENDORS = Object.keys(PROVIDER_IDS) as Vendor[];

const usd = z.number().check(z.nonnegative());
const tieredPriceSchema = z.strictObject({
  base: usd,
  tiers: z.array(z.strictObject({ start: z.int().check(z.nonnegative()), price: usd })).check(z.minLength(1)),
});
export const cataloguePricesSchema = z.record(z.string(), z.union([usd, tieredPriceSchema]));
const conditionalPricesSchema = z.array(
  z.strictObject({
    constraint: z.optional(z.strictObject({ type: z.literal('start_date'), start_date: z.iso.date() })),
    prices: cataloguePricesSchema,
  }),
);

export type CataloguePrices = z.infer<typeof cataloguePricesSchema>;
export type TieredPrice = z.infer<typeof tieredPriceSchema>;

export interface CatalogueModel {
  vendor: Vendor;
  id: string;
  /** The catalogue's match rule (equals, starts_with, regex, ... or a list of them); patterns.ts reads it. */
  match: unknown;
  prices: CataloguePrices;
}

export interface Catalogue {
  name: string;
  version: string;
  /** Every model of the served vendors, in the catalogue's order (its first match wins). */
  models: CatalogueModel[];
  /** The model whose price the catalogue would apply to `modelName`, or null when it prices none. */
  modelFor(vendor: Vendor, modelName: string): CatalogueModel | null;
}

export function loadCatalogue(): Catalogue {
  const models = VENDORS.flatMap((vendor) => {
    const provider = findProvider({ providerId: PROVIDER_IDS[vendor] });
    if (!provider) throw new Error(`${CATALOGUE_NAME} has no provider "${PROVIDER_IDS[vendor]}"`);
    return provider.models.map((model) => ({ vendor, id: model.id, match: model.match, prices: currentPrices(model) }));
  });
  const modelFor = (vendor: Vendor, modelName: string): CatalogueModel | null => {
    // The catalogue's own lookup, so the card is checked against its matching rather than a copy of it.
    const found = calcPrice({}, modelName, { providerId: PROVIDER_IDS[vendor] });
    return found ? (models.find((m) => m.vendor === vendor && m.id === found.model.id) ?? null) : null;
  };
  return { name: CATALOGUE_NAME, version: installedVersion(), models, modelFor };
}

/**
 * A model's prices now. Dated prices ("from 2026-08-21 on") are listed oldest first; the card is not
 * dated, so it takes the newest, in force for every request from then on. A kind of condition this
 * does not know (e.g. time-of-day prices) stops the build rather than being guessed at.
 */
export function currentPrices(model: ModelInfo): CataloguePrices {
  if (!Array.isArray(model.prices)) return parse(cataloguePricesSchema, model.prices, model.id);
  const dated = parse(conditionalPricesSchema, model.prices, model.id);
  const newest = dated.reduce((a, b) => ((b.constraint?.start_date ?? '') >= (a.constraint?.start_date ?? '') ? b : a));
  return newest.prices;
}

function parse<T>(schema: z.ZodMiniType<T>, value: unknown, modelId: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`${CATALOGUE_NAME}: unexpected prices for "${modelId}": ${z.prettifyError(result.error)}`);
  return result.data;
}

function installedVersion(): string {
  // The package exports no ./package.json; its entry point sits in dist/, one level below it.
  const entry = createRequire(import.meta.url).resolve(CATALOGUE_NAME);
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
  if (manifest.name !== CATALOGUE_NAME || typeof manifest.version !== 'string') {
    throw new Error(`cannot read the version of ${CATALOGUE_NAME} beside ${entry}`);
  }
  return manifest.version;
}
