/**
 * The rate-card generator (scripts/rate-card) on small made-up catalogues: how it turns the
 * catalogue's rules and prices into card entries, and the mistakes it refuses to ship.
 */
import { describe, expect, it } from 'vitest';
import type { RateCard } from '../shared/rateCard';
import { priceModel } from '../shared/rateCard';
import type { Vendor } from '../shared/usage';
import type { Catalogue, CatalogueModel, CataloguePrices } from '../scripts/rate-card/catalogue';
import { currentPrices } from '../scripts/rate-card/catalogue';
import { rateFromCatalogue } from '../scripts/rate-card/catalogueRates';
import { generateRateCard } from '../scripts/rate-card/generate';
import type { Overlay } from '../scripts/rate-card/overlay';
import { cardPatterns } from '../scripts/rate-card/patterns';

type Rule = { equals: string } | { starts_with: string } | { or: Rule[] };

const matches = (rule: Rule, name: string): boolean =>
  'or' in rule ? rule.or.some((r) => matches(r, name)) : 'equals' in rule ? rule.equals === name : name.startsWith(rule.starts_with);

/** A catalogue that, like the real one, prices a name by the first model whose rule matches it. */
function fakeCatalogue(models: { vendor?: Vendor; id: string; match: Rule; prices: CataloguePrices }[]): Catalogue {
  const list: CatalogueModel[] = models.map((m) => ({ vendor: m.vendor ?? 'openai', ...m }));
  return {
    name: 'fake-prices',
    version: '1.0.0',
    models: list,
    modelFor: (vendor, name) => list.find((m) => m.vendor === vendor && matches(m.match as Rule, name)) ?? null,
  };
}

const chat = (input: number, output: number): CataloguePrices => ({ input_mtok: input, output_mtok: output });
const CLAUDE = { vendor: 'anthropic' as const, id: 'claude-x', match: { starts_with: 'claude-x' }, prices: chat(3, 15) };
const noOverlay: Overlay = { checked: '2026-12-01', models: {} };
const parse = (text: string): RateCard => JSON.parse(text) as RateCard;

describe('the rate-card generator', () => {
  it('turns the rules into exact names and globs, and USD into credits (× 25)', () => {
    const card = parse(generateRateCard(fakeCatalogue([{ id: 'gpt-9', match: { or: [{ equals: 'gpt-9' }, { starts_with: 'gpt-9-20' }] }, prices: chat(2, 10) }, CLAUDE]), noOverlay));
    expect(Object.keys(card.models)).toEqual(['claude-x*', 'gpt-9', 'gpt-9-20*']);
    expect(card.models['gpt-9']).toEqual({ feature: 'assistant', input: 50, output: 250 });
    expect(card.version).toBe('2026-12-01+fake-prices-1.0.0');
  });

  it('gives each model the lowest output limit of the ids the catalogue prices as it, and no other', () => {
    const catalogue = fakeCatalogue([{ id: 'gpt-9', match: { or: [{ equals: 'gpt-9' }, { starts_with: 'gpt-9-20' }] }, prices: chat(2, 10) }, CLAUDE]);
    const limits = [
      { vendor: 'openai' as const, id: 'gpt-9', output: 128_000 },
      { vendor: 'openai' as const, id: 'gpt-9-2026-01-01', output: 64_000 },
      // Unknown to the price catalogue, or under another vendor: ignored.
      { vendor: 'openai' as const, id: 'gpt-10', output: 1_000 },
      { vendor: 'anthropic' as const, id: 'gpt-9', output: 10 },
    ];
    const card = parse(generateRateCard(catalogue, noOverlay, limits));
    expect(card.models['gpt-9']).toEqual({ feature: 'assistant', input: 50, output: 250, max_output_tokens: 64_000 });
    expect(card.models['gpt-9-20*']!.max_output_tokens).toBe(64_000);
    expect(card.models['claude-x*']!.max_output_tokens).toBeUndefined();
    expect(parse(generateRateCard(catalogue, noOverlay)).models['gpt-9']!.max_output_tokens).toBeUndefined();
  });

  it('refuses a catalogue whose first-match order the longest glob would not keep', () => {
    // The catalogue prices "gpt-9-mini" as gpt-9 (listed first); the card would pick the longer glob.
    const catalogue = fakeCatalogue([
      { id: 'gpt-9', match: { starts_with: 'gpt-9' }, prices: chat(2, 10) },
      { id: 'gpt-9-mini', match: { starts_with: 'gpt-9-mini' }, prices: chat(1, 5) },
      CLAUDE,
    ]);
    expect(() => generateRateCard(catalogue, noOverlay)).toThrow(/gpt-9-mini: the card finds gpt-9-mini, the catalogue picks gpt-9/);
  });

  it('refuses an overlay entry for a model the catalogue has come to price', () => {
    const catalogue = fakeCatalogue([{ id: 'gpt-9', match: { starts_with: 'gpt-9' }, prices: chat(2, 10) }, CLAUDE]);
    const overlay: Overlay = {
      checked: '2026-12-01',
      models: { 'gpt-9.1': { vendor: 'openai', also: [], source: 'https://example.invalid/gpt-9.1 pricing', usd: { input: 1, output: 2 } } },
    };
    expect(() => generateRateCard(catalogue, overlay)).toThrow(/now prices gpt-9.1 \(as gpt-9\); remove it/);
  });

  it('adds overlay prices the catalogue lacks to its entry, but never replaces one it has', () => {
    const catalogue = fakeCatalogue([{ id: 'speak', match: { equals: 'speak' }, prices: chat(1, 2) }, { id: 'gpt-9', match: { equals: 'gpt-9' }, prices: chat(2, 10) }, CLAUDE]);
    const adds: Overlay = { checked: '2026-12-01', models: { speak: { vendor: 'openai', also: [], source: 'https://example.invalid/speak pricing', usd: { per_character: 0.00002 } } } };
    expect(parse(generateRateCard(catalogue, adds)).models.speak).toEqual({ feature: 'assistant', input: 25, output: 50, per_character: 0.0005 });
    const replaces: Overlay = { checked: '2026-12-01', models: { speak: { vendor: 'openai', also: [], source: 'https://example.invalid/speak pricing', usd: { output: 3 } } } };
    expect(() => generateRateCard(catalogue, replaces)).toThrow(/the catalogue now prices speak's output/);
  });

  it("prices each vendor's unknown models at its dearest listed chat model", () => {
    const catalogue = fakeCatalogue([
      { id: 'gpt-cheap', match: { equals: 'gpt-cheap' }, prices: chat(1, 4) },
      { id: 'gpt-dear', match: { equals: 'gpt-dear' }, prices: chat(20, 80) },
      { id: 'text-embedding-9', match: { equals: 'text-embedding-9' }, prices: chat(100, 100) }, // not a chat model
      CLAUDE,
    ]);
    const card = parse(generateRateCard(catalogue, noOverlay));
    expect(priceModel(card, 'gpt-unknown', 'openai')).toEqual({ rate: card.models['gpt-dear'], listed: false });
    expect(priceModel(card, 'claude-unknown', 'anthropic')).toEqual({ rate: card.models['claude-x*'], listed: false });
  });

  it('stops at a price it does not know rather than dropping it', () => {
    expect(() => rateFromCatalogue('gpt-9', { input_mtok: 1, priority_input_mtok: 2 }, 0.04)).toThrow(/price "priority_input_mtok" is not known/);
  });

  it('maps one long-context threshold per model, and refuses more', () => {
    const tiered = rateFromCatalogue('gpt-9', {
      input_mtok: { base: 2, tiers: [{ start: 272_000, price: 4 }] },
      cache_read_mtok: 0.2,
      output_mtok: { base: 10, tiers: [{ start: 272_000, price: 15 }] },
    }, 0.04);
    expect(tiered).toEqual({
      feature: 'assistant', input: 50, cached_input: 5, output: 250,
      long_context: { above_input_tokens: 272_000, input: 100, cached_input: 5, output: 375 },
    });
    expect(() =>
      rateFromCatalogue('gpt-9', { input_mtok: { base: 2, tiers: [{ start: 200_000, price: 4 }] }, output_mtok: { base: 10, tiers: [{ start: 272_000, price: 15 }] } }, 0.04),
    ).toThrow(/one long-context threshold/);
  });

  it('prices audio by the second and image or audio output at the dearer output rate', () => {
    expect(rateFromCatalogue('whisper-9', { audio_hours: 0.36, input_audio_hours: 0.36 }, 0.04)).toEqual({ feature: 'audio', input: 0, output: 0, per_audio_second: 0.0025 });
    expect(rateFromCatalogue('gpt-image-9', { input_mtok: 5, output_mtok: 10, output_image_mtok: 32 }, 0.04)).toMatchObject({ feature: 'images', output: 800 });
  });

  it('takes the newest of dated prices', () => {
    const prices = currentPrices({
      id: 'gpt-9',
      match: { equals: 'gpt-9' },
      prices: [{ prices: { input_mtok: 5 } }, { constraint: { type: 'start_date', start_date: '2026-08-21' }, prices: { input_mtok: 4 } }],
    });
    expect(prices).toEqual({ input_mtok: 4 });
  });

  it('turns dated-snapshot regexes into globs and refuses rules it cannot express', () => {
    expect(cardPatterns({ or: [{ equals: 'gpt-6-sol' }, { regex: '^gpt-6\\.1-sol-\\d{4}-\\d{2}-\\d{2}$' }] }, 'm')).toEqual(['gpt-6-sol', 'gpt-6.1-sol-????-??-??']);
    expect(cardPatterns({ contains: 'moderation' }, 'm')).toEqual(['*moderation*']);
    expect(() => cardPatterns({ regex: '^gpt-(6|7)$' }, 'm')).toThrow(/no rate-card glob/);
    expect(() => cardPatterns({ and: [{ starts_with: 'a' }, { ends_with: 'b' }] }, 'm')).toThrow(/"and" match rule/);
  });
});
