/**
 * The card as text people read and diff: one model per line, fields in the schema's order, so a price
 * change in the catalogue shows as a one-line change in review.
 */
import type { LongContextRate, ModelRate, RateCard } from '../../shared/rateCard';

const RATE_FIELDS: readonly (keyof ModelRate)[] = [
  'feature', 'input', 'cached_input', 'cache_write', 'cache_write_1h', 'output', 'image_input', 'audio_input',
  'per_image', 'per_audio_second', 'per_character', 'long_context', 'max_output_tokens',
];

function inline(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const fields = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{ ${fields.map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }`;
}

const LONG_CONTEXT_FIELDS: readonly (keyof LongContextRate)[] = ['above_input_tokens', 'input', 'cached_input', 'cache_write', 'cache_write_1h', 'output'];

function inOrder<T extends object>(value: T, fields: readonly (keyof T)[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => value[field] !== undefined).map((field) => [field, value[field]]));
}

function ordered(rate: ModelRate): Record<string, unknown> {
  const fields = inOrder(rate, RATE_FIELDS);
  if (rate.long_context) fields.long_context = inOrder(rate.long_context, LONG_CONTEXT_FIELDS);
  return fields;
}

export function renderRateCard(card: RateCard): string {
  const block = (entries: [string, string][], indent: string): string =>
    entries.map(([key, text], i) => `${indent}${JSON.stringify(key)}: ${text}${i < entries.length - 1 ? ',' : ''}`).join('\n');
  const models = block(Object.entries(card.models).map(([name, rate]) => [name, inline(ordered(rate))]), '    ');
  const fallback = card.default;
  const defaults =
    fallback === null ? 'null'
    : 'openai' in fallback ? `{\n${block([['openai', inline(fallback.openai && ordered(fallback.openai))], ['anthropic', inline(fallback.anthropic && ordered(fallback.anthropic))]], '    ')}\n  }`
    : inline(ordered(fallback));
  const packs = card.packs.map((pack, i) => `    ${inline(pack)}${i < card.packs.length - 1 ? ',' : ''}`).join('\n');
  return [
    '{',
    `  "version": ${JSON.stringify(card.version)},`,
    ...(card.catalogue ? [`  "catalogue": ${inline(card.catalogue)},`] : []),
    `  "creditUsd": ${JSON.stringify(card.creditUsd)},`,
    '  "models": {',
    models,
    '  },',
    `  "default": ${defaults},`,
    '  "packs": [',
    packs,
    '  ]',
    '}',
    '',
  ].join('\n');
}
