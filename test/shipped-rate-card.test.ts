/**
 * The shipped rate card against the price catalogue it is generated from (@pydantic/genai-prices)
 * and the hand-kept overlay. Expected prices are read from the catalogue here, through its own
 * pricing function, never copied: a catalogue update that changes a price changes what is expected.
 */
import { readFileSync } from 'node:fs';
import type { Usage } from '@pydantic/genai-prices';
import { calcPrice, findProvider } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { defaultRateCard } from '../proxy/pricing/defaultRateCard';
import { costOf } from '../proxy/pricing/cost';
import type { ModelRate } from '../shared/rateCard';
import { isVendorDefaults, priceModel, rateCardSchema } from '../shared/rateCard';
import type { MeteredUsage, Vendor } from '../shared/usage';
import { loadCatalogue } from '../scripts/rate-card/catalogue';
import { generateRateCard } from '../scripts/rate-card/generate';
import { loadOutputLimits } from '../scripts/rate-card/outputLimits';
import { loadOverlay } from '../scripts/rate-card/overlay';
import { cardPatterns, sampleName } from '../scripts/rate-card/patterns';

const card = defaultRateCard();
const catalogue = loadCatalogue();
const overlay = loadOverlay();
const outputLimits = loadOutputLimits();

/** Codex 0.169's built-in models (its default is gpt-6.1-sol) and what Claude Code offers (default claude-opus-4-8). */
const CLIENT_MODELS: readonly [Vendor, string][] = [
  ['openai', 'gpt-6.1-sol'],
  ['openai', 'gpt-6-sol'],
  ['openai', 'gpt-6-luna'],
  ['openai', 'gpt-6-astra'],
  ['openai', 'gpt-6.1-terra'],
  ['anthropic', 'claude-opus-4-8'],
  ['anthropic', 'claude-sonnet-5'],
  ['anthropic', 'claude-mythos-5'],
];

/** A coding turn: mostly cache reads, some writes (a fifth of them for an hour on Anthropic). */
function turn(vendor: Vendor, prompt: number): MeteredUsage {
  const cached = Math.floor(prompt * 0.7);
  const written = Math.floor(prompt * 0.1);
  return vendor === 'openai'
    ? { vendor, inputTokens: prompt, cachedInputTokens: cached, cacheWriteTokens: written, outputTokens: 2_000, reasoningTokens: 500 }
    : { vendor, inputTokens: prompt - cached - written, cachedInputTokens: cached, cacheWriteTokens: written, cacheWrite1hTokens: Math.floor(written / 5), outputTokens: 2_000, reasoningTokens: 0 };
}

/** The same usage in the catalogue's terms: input_tokens counts every input token, cache included. */
function catalogueUsage(usage: MeteredUsage): Usage {
  const prompt = usage.vendor === 'openai' ? usage.inputTokens : usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens;
  return {
    input_tokens: prompt,
    cache_read_tokens: usage.cachedInputTokens,
    cache_write_tokens: usage.cacheWriteTokens,
    cache_write_1h_tokens: usage.cacheWrite1hTokens ?? 0,
    output_tokens: usage.outputTokens,
  };
}

/** What the catalogue charges for the usage, in micro-credits at the card's rate; null when it does not price the model. */
function catalogueCost(model: string, usage: MeteredUsage): number | null {
  const priced = calcPrice(catalogueUsage(usage), model, { providerId: usage.vendor });
  return priced && (priced.total_price / card.creditUsd) * 1_000_000;
}

function listedRate(vendor: Vendor, model: string): ModelRate {
  const price = priceModel(card, model, vendor);
  expect(price?.listed, `${model} is on the card`).toBe(true);
  return price!.rate;
}

/** Creditgate rounds once to a whole micro-credit; the catalogue sums floats. */
function expectSameCost(model: string, usage: MeteredUsage): void {
  const expected = catalogueCost(model, usage);
  expect(expected, `the catalogue prices ${model}`).not.toBeNull();
  expect(Math.abs(costOf(listedRate(usage.vendor, model), usage) - expected!), model).toBeLessThanOrEqual(1);
}

describe('the shipped rate card', () => {
  it('is what the installed catalogues and the overlay make, byte for byte, every time', () => {
    const first = generateRateCard(catalogue, overlay, outputLimits);
    expect(generateRateCard(loadCatalogue(), loadOverlay(), loadOutputLimits())).toBe(first);
    expect(readFileSync(new URL('../shared/default-rate-card.json', import.meta.url), 'utf8')).toBe(first);
  });

  it('bounds every model the output-limit catalogue knows by no more than its limit, and only those', () => {
    expect(outputLimits.length).toBeGreaterThan(20);
    for (const { vendor, id, output } of outputLimits) {
      if (!catalogue.modelFor(vendor, id)) continue;
      const found = priceModel(card, id, vendor);
      expect(found?.listed, `${vendor} ${id} is listed`).toBe(true);
      expect(found!.rate.max_output_tokens, `${vendor} ${id}`).toBeLessThanOrEqual(output);
      expect(found!.rate.max_output_tokens, `${vendor} ${id}`).toBeGreaterThan(0);
    }
    // The catalogue's figures, not the 16,384-token fallback: gpt-5 writes up to 128k (read, not copied).
    const gpt5 = outputLimits.find((limit) => limit.id === 'gpt-5')!;
    expect(priceModel(card, 'gpt-5', 'openai')!.rate.max_output_tokens).toBe(gpt5.output);
    // Models it does not know (the clients' newest) have none: the gateway's 16,384-token rule applies.
    for (const [vendor, model] of CLIENT_MODELS) {
      if (!outputLimits.some((limit) => catalogue.modelFor(vendor, limit.id) === catalogue.modelFor(vendor, model))) {
        expect(priceModel(card, model, vendor)!.rate.max_output_tokens, model).toBeUndefined();
      }
    }
  });

  it("names the catalogue and its version, and keeps the card's shape", () => {
    const shipped: unknown = JSON.parse(readFileSync(new URL('../shared/default-rate-card.json', import.meta.url), 'utf8'));
    expect(rateCardSchema.safeParse(shipped).success).toBe(true);
    expect(card.catalogue).toEqual({ name: '@pydantic/genai-prices', version: catalogue.version });
    expect(card.version).toBe(`${overlay.checked}+genai-prices-${catalogue.version}`);
    expect(card.creditUsd).toBe(0.04);
    expect(card.packs.map((p) => [p.credits, p.usd])).toEqual([[100, 4], [500, 20], [1000, 40]]);
  });

  it.each(CLIENT_MODELS)('prices %s %s, the price the catalogue or the overlay gives', (vendor, model) => {
    for (const name of [model, vendor === 'openai' ? `${model}-2026-09-29` : `${model}-20261001`]) {
      const rate = listedRate(vendor, name);
      if (catalogue.modelFor(vendor, name)) {
        for (const prompt of [40_000, 300_000]) expectSameCost(name, turn(vendor, prompt));
      } else {
        // Not in the catalogue yet: the overlay's hand-kept price (USD × 25), with its source.
        const entry = overlay.models[model];
        expect(entry?.source).toMatch(/^https:\/\//);
        expect(rate.input).toBe(entry!.usd.input! / card.creditUsd);
        expect(rate.output).toBe(entry!.usd.output! / card.creditUsd);
        expect(rate.cached_input).toBe(entry!.usd.cached_input! / card.creditUsd);
        expect(rate.long_context?.above_input_tokens).toBe(entry!.usd.long_context?.above_input_tokens);
      }
    }
  });

  it("prices Claude Code's default claude-opus-4-8 at its $5 / $25 list price", () => {
    const rate = listedRate('anthropic', 'claude-opus-4-8');
    const million = { vendor: 'anthropic', cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } as const;
    expect(costOf(rate, { ...million, inputTokens: 1_000_000, outputTokens: 0 })).toBe((5 / 0.04) * 1_000_000);
    expect(costOf(rate, { ...million, inputTokens: 0, outputTokens: 1_000_000 })).toBe((25 / 0.04) * 1_000_000);
  });

  it.each(['gpt-5.5', 'gpt-5.6-sol', 'gpt-5.6-luna', 'gpt-5.6-terra'])("prices %s at its own catalogue price, not gpt-5's", (model) => {
    expect(catalogue.modelFor('openai', model)?.id).toBe(model);
    const usage = turn('openai', 40_000);
    expectSameCost(model, usage);
    expect(costOf(listedRate('openai', model), usage)).not.toBe(costOf(listedRate('openai', 'gpt-5'), usage));
  });

  it('prices long prompts at the long-context rates where the catalogue has them', () => {
    for (const [vendor, model] of [['openai', 'gpt-5.5'], ['openai', 'gpt-6-sol'], ['anthropic', 'claude-sonnet-4-5']] as const) {
      const long = turn(vendor, 300_000);
      expect(listedRate(vendor, model).long_context).toBeDefined();
      expectSameCost(model, long);
      // Dearer per token than a short prompt: the whole request moves to the long-context rates.
      const short = turn(vendor, 100_000);
      expect(costOf(listedRate(vendor, model), long) / 3).toBeGreaterThan(costOf(listedRate(vendor, model), short));
    }
  });

  it("prices every token model of the catalogue's OpenAI and Anthropic lists as the catalogue does", () => {
    let checked = 0;
    for (const model of catalogue.models) {
      // Audio and image output are not metered apart (the card prices all output at the dearer rate),
      // and per-hour audio is priced per second: those are checked by their own tests.
      if (Object.keys(model.prices).some((key) => /^output_(audio|image)_mtok$|_hours$/.test(key))) continue;
      for (const name of cardPatterns(model.match, model.id).map(sampleName)) {
        if (catalogue.modelFor(model.vendor, name)?.id !== model.id) continue; // an earlier model's name
        expectSameCost(name, turn(model.vendor, 50_000));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('keeps the per-unit prices of the overlay, each with its source', () => {
    for (const [id, entry] of Object.entries(overlay.models)) expect(entry.source, id).toMatch(/https:\/\/\S+/);
    expect(listedRate('openai', 'dall-e-3')).toMatchObject({ feature: 'images', per_image: 1 });
    expect(listedRate('openai', 'tts-1-hd-1106')).toMatchObject({ feature: 'audio', per_character: 0.00075 });
    expect(listedRate('openai', 'gpt-4o-transcribe')).toMatchObject({ feature: 'audio', per_audio_second: 0.0025 });
    // whisper-1 comes from the catalogue's price per hour of audio.
    const whisper = findProvider({ providerId: 'openai' })!.models.find((m) => m.id === 'whisper-1')!;
    expect(listedRate('openai', 'whisper-1').per_audio_second).toBeCloseTo((whisper.prices as Record<string, number>).audio_hours! / 3_600 / 0.04, 12);
  });

  it("prices a model the card does not list at the vendor's dearest listed chat model", () => {
    const fallback = card.default;
    expect(fallback !== null && isVendorDefaults(fallback)).toBe(true);
    if (fallback === null || !isVendorDefaults(fallback)) return;
    for (const vendor of ['openai', 'anthropic'] as const) {
      const chat = catalogue.models.filter((m) => m.vendor === vendor).map((m) => listedRate(vendor, sampleName(cardPatterns(m.match, m.id)[0]!)));
      const dearestOutput = Math.max(...chat.filter((r) => r.feature === 'assistant').map((r) => r.output));
      expect(fallback[vendor]?.output).toBe(dearestOutput);
      expect(priceModel(card, vendor === 'openai' ? 'gpt-7-nova' : 'claude-epic-9', vendor)).toEqual({ rate: fallback[vendor], listed: false });
    }
  });
});
