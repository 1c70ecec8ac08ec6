/**
 * OpenAI text to speech (POST /v1/audio/speech). The answer is audio bytes that carry no usage, so
 * what it costs is read from the request:
 *   - tts-1 and tts-1-hd are billed per character of `input`: known exactly before forwarding.
 *   - the gpt-4o TTS models are billed in tokens, text in and audio out. Streamed as SSE
 *     (`stream_format: "sse"`), the final `speech.audio.done` event reports them; as audio bytes
 *     nothing does, and the gateway charges an estimate: the input counted by its tokenizer, and
 *     AUDIO_TOKENS_PER_CHARACTER audio tokens per character of input.
 */
import type { MeteredUsage } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import type { Dialect, DialectRequest, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { eventStreamMeter } from './eventStream';
import { field, isObject, joinText } from './json';
import { openAiUsage } from './usageFields';
import { firstError, invalid, requireInput, requireModel, requireObjectBody, type FieldError } from './validation';

/** tts-1, tts-1-hd and their dated snapshots: the models OpenAI bills per character. */
const BILLED_PER_CHARACTER = /^tts-1(-|$)/;

/**
 * OpenAI puts gpt-4o-mini-tts at about $0.015 a minute of audio, which at $12 per million audio
 * tokens is 1,250 tokens a minute; speech at the default speed runs about 900 characters a minute,
 * so ~1.4 tokens per character. Rounded up, so that slower or paused speech is still covered.
 */
export const AUDIO_TOKENS_PER_CHARACTER = 1.5;

function optionalString(value: unknown, param: string): FieldError {
  return value === undefined || value === null || typeof value === 'string'
    ? null
    : { message: `Invalid type for '${param}': expected a string.`, param };
}

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const error = firstError(
    requireModel(fields.model),
    requireInput(fields.input, 'input', null),
    optionalString(fields.instructions, 'instructions'),
    optionalString(fields.stream_format, 'stream_format'),
    fields.speed === undefined || fields.speed === null || (typeof fields.speed === 'number' && fields.speed > 0)
      ? null
      : { message: "Invalid value for 'speed': expected a positive number.", param: 'speed' },
  );
  if (error) return invalid(error);
  const model = fields.model as string;
  const input = fields.input as string;
  // Characters as a reader counts them (code points), not UTF-16 units.
  const characters = Array.from(input).length;
  const request: DialectRequest = {
    model,
    stream: fields.stream_format === 'sse',
    maxOutputTokens: null,
    promptText: joinText([input, typeof fields.instructions === 'string' ? fields.instructions : '']),
  };
  if (BILLED_PER_CHARACTER.test(model)) {
    request.knownUsage = { ...emptyUsage('openai'), characters };
  } else {
    const speed = typeof fields.speed === 'number' ? fields.speed : 1;
    request.fallbackUsage = { ...emptyUsage('openai'), characters, outputTokens: Math.ceil((characters * AUDIO_TOKENS_PER_CHARACTER) / speed) };
  }
  return { ok: true, request };
}

/** `speech.audio.done` carries the usage of a streamed speech: input (text) and output (audio) tokens. */
function doneUsage(event: unknown): MeteredUsage | null {
  return openAiUsage(field(event, 'usage'));
}

export const speechDialect: Dialect = {
  name: 'speech',
  ...openAiApi,
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: () => eventStreamMeter({ terminalTypes: ['speech.audio.done'], usageOf: doneUsage }),
};
