/**
 * OpenAI's per-unit routes as they answer: legacy Completions, images (gpt-image with token usage,
 * dall-e with none), speech (audio bytes, or SSE with usage), transcription (by duration or by tokens,
 * as json, verbose_json, text or a stream) and moderation (no usage at all).
 */
import type { FakeTurn } from './turn';
import { sseEvent } from './turn';

function completionsUsage(turn: FakeTurn): unknown {
  const { usage } = turn;
  if (usage === null) return null;
  return { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens, total_tokens: usage.input_tokens + usage.output_tokens };
}

export function completionsBody(turn: FakeTurn): unknown {
  return {
    id: `cmpl-${turn.id}`,
    object: 'text_completion',
    created: turn.created,
    model: turn.model,
    choices: [{ text: turn.text, index: 0, logprobs: null, finish_reason: turn.terminal === 'incomplete' ? 'length' : 'stop' }],
    ...(turn.usage === null ? {} : { usage: completionsUsage(turn) }),
  };
}

/** Like Chat: `"usage": null` on every chunk and one `choices: []` usage chunk only with include_usage. */
export function completionsChunks(turn: FakeTurn, includeUsage: boolean): string[] {
  const head = { id: `cmpl-${turn.id}`, object: 'text_completion', created: turn.created, model: turn.model };
  const chunk = (text: string, finishReason: string | null): string =>
    sseEvent(null, { ...head, choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }], ...(includeUsage ? { usage: null } : {}) });
  const chunks = [...turn.pieces.map((text) => chunk(text, null)), chunk('', 'stop')];
  if (includeUsage && turn.usage !== null) chunks.push(sseEvent(null, { ...head, choices: [], usage: completionsUsage(turn) }));
  chunks.push('data: [DONE]\n\n');
  return chunks;
}

/** A 1×1 PNG, as every generated image (the gateway must never need its bytes). */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export function isGptImage(model: string): boolean {
  return model.startsWith('gpt-image');
}

function imageUsage(turn: FakeTurn): unknown {
  const { usage } = turn;
  if (usage === null) return undefined;
  return {
    input_tokens: usage.input_tokens,
    input_tokens_details: { text_tokens: usage.input_tokens - usage.image_tokens, image_tokens: usage.image_tokens },
    output_tokens: usage.output_tokens,
    total_tokens: usage.input_tokens + usage.output_tokens,
  };
}

/** gpt-image: base64 images and token usage; dall-e: URLs and no usage at all. */
export function imagesBody(turn: FakeTurn, count: number): unknown {
  const gptImage = isGptImage(turn.model);
  return {
    created: turn.created,
    data: Array.from({ length: count }, (_, i) =>
      gptImage ? { b64_json: PNG_BASE64 } : { url: `https://images.invalid/${turn.id}-${i}.png`, revised_prompt: turn.text },
    ),
    ...(gptImage && turn.usage !== null ? { usage: imageUsage(turn) } : {}),
  };
}

/** A gpt-image stream: one partial image, then the completed image with the usage. */
export function imageEvents(turn: FakeTurn, edit: boolean): string[] {
  const prefix = edit ? 'image_edit' : 'image_generation';
  const event = (type: string, fields: Record<string, unknown>): string => sseEvent(type, { type, ...fields });
  return [
    event(`${prefix}.partial_image`, { b64_json: PNG_BASE64, partial_image_index: 0, created_at: turn.created }),
    event(`${prefix}.completed`, { b64_json: PNG_BASE64, created_at: turn.created, ...(turn.usage === null ? {} : { usage: imageUsage(turn) }) }),
  ];
}

/** Fake audio: as many bytes as the speech would have, none of it a real recording. */
export function speechAudio(input: string): Buffer {
  return Buffer.alloc(64 + input.length * 16, 0xff);
}

export function speechEvents(turn: FakeTurn, input: string): string[] {
  const event = (type: string, fields: Record<string, unknown>): string => sseEvent(null, { type, ...fields });
  const audio = speechAudio(input).toString('base64');
  const usage = turn.usage;
  return [
    ...turn.pieces.map(() => event('speech.audio.delta', { audio })),
    event('speech.audio.done', {
      ...(usage === null ? {} : { usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, total_tokens: usage.input_tokens + usage.output_tokens } }),
    }),
  ];
}

export interface TranscriptionRequest {
  model: string;
  responseFormat: string;
  /** Length of the recording, in seconds. */
  seconds: number;
}

function transcriptionUsage(turn: FakeTurn, request: TranscriptionRequest): unknown {
  const { usage } = turn;
  if (usage === null) return undefined;
  if (request.model === 'whisper-1') return { type: 'duration', seconds: request.seconds };
  return {
    type: 'tokens',
    input_tokens: usage.input_tokens,
    input_token_details: { text_tokens: usage.input_tokens - usage.audio_tokens, audio_tokens: usage.audio_tokens },
    output_tokens: usage.output_tokens,
    total_tokens: usage.input_tokens + usage.output_tokens,
  };
}

/** The answer in the format asked for: JSON (json, verbose_json) or plain text (text, srt, vtt). */
export function transcriptionAnswer(turn: FakeTurn, request: TranscriptionRequest): { json: unknown } | { text: string } {
  switch (request.responseFormat) {
    case 'text':
      return { text: `${turn.text}\n` };
    case 'srt':
      return { text: `1\n00:00:00,000 --> 00:00:0${Math.min(9, Math.floor(request.seconds))},000\n${turn.text}\n` };
    case 'vtt':
      return { text: `WEBVTT\n\n00:00:00.000 --> 00:00:0${Math.min(9, Math.floor(request.seconds))}.000\n${turn.text}\n` };
    case 'verbose_json':
      return {
        json: {
          task: 'transcribe',
          language: 'english',
          duration: request.seconds,
          text: turn.text,
          segments: [{ id: 0, start: 0, end: request.seconds, text: turn.text }],
          ...(turn.usage === null ? {} : { usage: transcriptionUsage(turn, request) }),
        },
      };
    default:
      return { json: { text: turn.text, ...(turn.usage === null ? {} : { usage: transcriptionUsage(turn, request) }) } };
  }
}

export function transcriptionEvents(turn: FakeTurn, request: TranscriptionRequest): string[] {
  const event = (type: string, fields: Record<string, unknown>): string => sseEvent(null, { type, ...fields });
  return [
    ...turn.pieces.map((delta) => event('transcript.text.delta', { delta })),
    event('transcript.text.done', { text: turn.text, ...(turn.usage === null ? {} : { usage: transcriptionUsage(turn, request) }) }),
  ];
}

/** Moderation answers carry no usage: the API is free. */
export function moderationsBody(turn: FakeTurn, inputs: number): unknown {
  return {
    id: `modr-${turn.id}`,
    model: turn.model,
    results: Array.from({ length: inputs }, () => ({ flagged: false, categories: { violence: false }, category_scores: { violence: 0.0001 } })),
  };
}
