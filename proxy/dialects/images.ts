/**
 * OpenAI image generation (POST /v1/images/generations, JSON) and editing (/edits and /variations,
 * multipart uploads or JSON). Two ways of pricing, by model:
 *   - gpt-image models report `usage` in tokens (text and image input, image output), the list price;
 *   - dall-e models report nothing: each image in `data` is charged the card's `per_image`.
 * Both are read from every answer (`data.length` images, plus any token usage), and the card prices
 * whichever applies. Streamed gpt-image answers (`stream: true`) end each image with a
 * `*.completed` event carrying the usage.
 */
import type { MeteredUsage } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import type { Dialect, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { parseJsonOrForm } from './bodyFormats';
import { eventStreamMeter } from './eventStream';
import { field, isObject } from './json';
import { openAiUsage } from './usageFields';
import { firstError, invalid, optionalBoolean, optionalCount, optionalModel, requireObjectBody } from './validation';

const FORM_TYPES = { booleans: ['stream'], numbers: ['n', 'partial_images', 'output_compression'] };

/**
 * The API's default model is dall-e-2, unless the request uses a parameter only the gpt-image
 * models have; the gateway resolves a missing model the same way, so it prices what runs.
 */
const GPT_IMAGE_ONLY_FIELDS = ['background', 'moderation', 'output_compression', 'output_format', 'input_fidelity', 'partial_images', 'stream'];

/**
 * Image output tokens by quality and size, as OpenAI lists them for the gpt-image models. `auto`
 * (and anything unknown) takes the dearest, so the estimate errs high.
 */
const OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
const MAX_OUTPUT_TOKENS_PER_IMAGE = 6240;

function outputTokensPerImage(quality: unknown, size: unknown): number {
  const bySize = typeof quality === 'string' ? OUTPUT_TOKENS[quality] : undefined;
  return (typeof size === 'string' ? bySize?.[size] : undefined) ?? MAX_OUTPUT_TOKENS_PER_IMAGE;
}

function resolveModel(fields: Record<string, unknown>): string {
  if (typeof fields.model === 'string' && fields.model !== '') return fields.model;
  return GPT_IMAGE_ONLY_FIELDS.some((name) => fields[name] !== undefined && fields[name] !== null) ? 'gpt-image-1' : 'dall-e-2';
}

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const error = firstError(
    optionalModel(fields.model),
    optionalCount(fields.n, 'n'),
    optionalBoolean(fields.stream, 'stream'),
    fields.prompt === undefined || fields.prompt === null || typeof fields.prompt === 'string'
      ? null
      : { message: "Invalid type for 'prompt': expected a string.", param: 'prompt' },
  );
  if (error) return invalid(error);
  const images = typeof fields.n === 'number' ? fields.n : 1;
  return {
    ok: true,
    request: {
      model: resolveModel(fields),
      stream: fields.stream === true,
      maxOutputTokens: images * outputTokensPerImage(fields.quality, fields.size),
      promptText: typeof fields.prompt === 'string' ? fields.prompt : '',
      // dall-e is priced per image; for gpt-image the output tokens are what the card prices.
      fallbackUsage: { ...emptyUsage('openai'), images, outputTokens: images * outputTokensPerImage(fields.quality, fields.size) },
    },
  };
}

/** `data` holds one entry per image made; token usage is there for gpt-image models only. */
function imagesUsage(body: unknown): MeteredUsage | null {
  if (!isObject(body)) return null;
  const tokens = openAiUsage(body.usage);
  if (!tokens && !Array.isArray(body.data)) return null;
  return { ...(tokens ?? emptyUsage('openai')), images: Array.isArray(body.data) ? body.data.length : 0 };
}

export const imagesDialect: Dialect = {
  name: 'images',
  ...openAiApi,
  parseRequest: (raw, contentType) => parseJsonOrForm(raw, contentType, FORM_TYPES),
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: imagesUsage,
  createStreamMeter: () =>
    eventStreamMeter({
      terminalTypes: ['image_generation.completed', 'image_edit.completed'],
      // The last usage reported stands; each completed event is one image.
      usageOf: (event, imagesSoFar) => ({ ...(openAiUsage(field(event, 'usage')) ?? emptyUsage('openai')), images: imagesSoFar }),
    }),
};
