/**
 * The per-unit dialects on their own: what each checks in a request, what it knows from the request
 * alone, and how it reads usage from real answers of the fake upstream, whole or as the skeleton the
 * gateway keeps of a large body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MeteredUsage } from '../shared/usage';
import type { Dialect, DialectRequest, StreamMeter } from '../proxy/dialects/types';
import {
  completionsDialect,
  embeddingsDialect,
  imagesDialect,
  moderationsDialect,
  speechDialect,
  transcriptionsDialect,
} from '../proxy/dialects';
import { AUDIO_TOKENS_PER_CHARACTER } from '../proxy/dialects/speech';
import { ESTIMATE_BITS_PER_SECOND } from '../proxy/dialects/transcriptions';
import { JsonSkeletonScanner } from '../proxy/dialects/jsonSkeleton';
import { DEFAULT_TEXT, rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { encodeForm, fakeFile } from './helpers/multipart';
import { splitAt } from './helpers/splitAt';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(() => upstream.close());

async function answer(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await rawRequest(upstream.url + path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return res.body;
}

async function formAnswer(path: string, parts: Parameters<typeof encodeForm>[0], headers: Record<string, string> = {}): Promise<Buffer> {
  const form = await encodeForm(parts);
  return (await rawRequest(upstream.url + path, { body: form.body, headers: { 'content-type': form.contentType, ...headers } })).body;
}

const usage = (fields: Partial<MeteredUsage>): MeteredUsage => ({
  vendor: 'openai',
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  ...fields,
});

function valid(dialect: Dialect, body: unknown): DialectRequest {
  const result = dialect.validate(body);
  if (!result.ok) throw new Error(`expected valid, got: ${result.message}`);
  return result.request;
}

function meter(dialect: Dialect, chunks: Buffer[], stripUsageChunk = false): { meter: StreamMeter; out: Buffer } {
  const m = dialect.createStreamMeter({ stripUsageChunk });
  const writes = chunks.map((chunk) => m.push(chunk));
  writes.push(m.end());
  return { meter: m, out: Buffer.concat(writes) };
}

/** The skeleton the gateway keeps of a large body (usage objects, top-level scalars, arrays as `{}` items). */
function skeletonOf(body: unknown): unknown {
  const scanner = new JsonSkeletonScanner();
  scanner.push(Buffer.from(JSON.stringify(body)));
  return scanner.result();
}

/** usageFromBody gives the same on the full body and on the skeleton a large body is reduced to. */
function expectSameOnSkeleton(dialect: Dialect, body: unknown): MeteredUsage | null {
  const whole = dialect.usageFromBody(body);
  expect(dialect.usageFromBody(skeletonOf(body))).toEqual(whole);
  return whole;
}

const TOKENS = JSON.stringify({ input_tokens: 1200, output_tokens: 300 });

describe('legacy Completions dialect', () => {
  it('validates model and prompt, and caps output at max_tokens (default 16) × the completions generated', () => {
    expect(completionsDialect.validate({ prompt: 'x' })).toMatchObject({ ok: false, param: 'model' });
    expect(completionsDialect.validate({ model: 'm' })).toMatchObject({ ok: false, param: 'prompt' });
    expect(completionsDialect.validate({ model: 'm', prompt: 3 })).toMatchObject({ ok: false, param: 'prompt' });
    expect(completionsDialect.validate({ model: 'm', prompt: 'x', best_of: -1 })).toMatchObject({ ok: false, param: 'best_of' });
    expect(valid(completionsDialect, { model: 'm', prompt: 'say hi' })).toMatchObject({ maxOutputTokens: 16, promptText: 'say hi', stream: false });
    expect(valid(completionsDialect, { model: 'm', prompt: ['a', 'b'], max_tokens: 100, n: 2, best_of: 3 })).toMatchObject({ maxOutputTokens: 300, promptText: 'a\nb' });
  });

  it('asks for stream usage on a copy and strips the usage chunk the client did not ask for, at any split', async () => {
    const request = valid(completionsDialect, { model: 'gpt-3.5-turbo-instruct', prompt: 'hi', stream: true });
    const body = { model: 'gpt-3.5-turbo-instruct', prompt: 'hi', stream: true };
    const prepared = completionsDialect.prepare(body, request);
    expect(prepared.body).not.toBe(body);
    expect(prepared).toMatchObject({ body: { stream_options: { include_usage: true } }, stripUsageChunk: true });
    expect(body).not.toHaveProperty('stream_options');

    const bytes = await answer('/v1/completions', prepared.body, { 'x-fake-usage': TOKENS });
    const withoutUsage = await answer('/v1/completions', body, { 'x-fake-usage': TOKENS });
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
        const { meter: m, out } = meter(completionsDialect, splitAt(bytes, cuts), true);
        expect(m.usage()).toEqual(usage({ inputTokens: 1200, outputTokens: 300 }));
        expect(m.sawTerminal()).toBe(true);
        expect(m.streamedText()).toBe(DEFAULT_TEXT);
        // The client gets the stream it asked for: no usage chunk (ids, and the "usage":null that
        // include_usage adds to every chunk, aside).
        const ids = (b: Buffer): string => b.toString().replace(/"(id|created)":("[^"]*"|\d+)|,"usage":null/g, '');
        expect(ids(out)).toBe(ids(withoutUsage));
      }),
      { numRuns: 50 },
    );
  });

  it('reads usage from a body', async () => {
    const body = JSON.parse((await answer('/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'hi' }, { 'x-fake-usage': TOKENS })).toString());
    expect(expectSameOnSkeleton(completionsDialect, body)).toEqual(usage({ inputTokens: 1200, outputTokens: 300 }));
  });
});

describe('embeddings dialect', () => {
  it('validates model and input, and prices the prompt tokens as input', async () => {
    expect(embeddingsDialect.validate({ input: 'x' })).toMatchObject({ ok: false, param: 'model' });
    expect(embeddingsDialect.validate({ model: 'm' })).toMatchObject({ ok: false, param: 'input' });
    expect(valid(embeddingsDialect, { model: 'm', input: ['a', 'b', [1, 2]] })).toMatchObject({ promptText: 'a\nb', maxOutputTokens: 0 });
    const body = JSON.parse((await answer('/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] }, { 'x-fake-usage': '{"input_tokens":42}' })).toString());
    expect(body.usage).toEqual({ prompt_tokens: 42, total_tokens: 42 });
    expect(expectSameOnSkeleton(embeddingsDialect, body)).toEqual(usage({ inputTokens: 42 }));
  });
});

describe('images dialect', () => {
  it('resolves a missing model as the API does: dall-e-2, unless a gpt-image parameter is used', () => {
    expect(valid(imagesDialect, { prompt: 'a cat' }).model).toBe('dall-e-2');
    expect(valid(imagesDialect, { prompt: 'a cat', output_format: 'webp' }).model).toBe('gpt-image-1');
    expect(valid(imagesDialect, { prompt: 'a cat', model: 'dall-e-3' }).model).toBe('dall-e-3');
    expect(imagesDialect.validate({ prompt: 'a cat', n: 1.5 })).toMatchObject({ ok: false, param: 'n' });
    expect(imagesDialect.validate({ prompt: 7 })).toMatchObject({ ok: false, param: 'prompt' });
  });

  it('knows from the request the images asked for, and their output tokens at the dearest quality when unsaid', () => {
    expect(valid(imagesDialect, { prompt: 'p', n: 3 }).fallbackUsage).toMatchObject({ images: 3 });
    expect(valid(imagesDialect, { prompt: 'p', model: 'gpt-image-1', quality: 'medium', size: '1024x1024' }).fallbackUsage).toMatchObject({ images: 1, outputTokens: 1056 });
    expect(valid(imagesDialect, { prompt: 'p', model: 'gpt-image-1', n: 2 }).fallbackUsage).toMatchObject({ images: 2, outputTokens: 2 * 6240 });
  });

  it('counts dall-e images from data, and reads gpt-image token usage with its image input tokens', async () => {
    const dalle = JSON.parse((await answer('/v1/images/generations', { model: 'dall-e-3', prompt: 'p', n: 2 })).toString());
    expect(dalle.usage).toBeUndefined();
    expect(expectSameOnSkeleton(imagesDialect, dalle)).toEqual(usage({ images: 2 }));
    const gptImage = JSON.parse(
      (await answer('/v1/images/edits', { model: 'gpt-image-1', prompt: 'p' }, { 'x-fake-usage': '{"input_tokens":300,"image_tokens":250,"output_tokens":1056}' })).toString(),
    );
    expect(expectSameOnSkeleton(imagesDialect, gptImage)).toEqual(usage({ inputTokens: 300, imageInputTokens: 250, outputTokens: 1056, images: 1 }));
    expect(imagesDialect.usageFromBody({ created: 1 })).toBeNull();
  });

  it('reads a multipart edit: text fields typed, files measured', async () => {
    const form = await encodeForm([
      ['image[]', fakeFile(1000, 'image/png'), 'a.png'],
      ['image[]', fakeFile(2000, 'image/png'), 'b.png'],
      ['model', 'gpt-image-1'],
      ['prompt', 'add a hat'],
      ['n', '2'],
      ['stream', 'false'],
    ]);
    const body = (await imagesDialect.parseRequest!(form.body, form.contentType)) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'gpt-image-1', prompt: 'add a hat', n: 2, stream: false });
    expect(body['image[]']).toEqual([
      { bytes: 1000, filename: 'a.png', mimeType: 'image/png' },
      { bytes: 2000, filename: 'b.png', mimeType: 'image/png' },
    ]);
    expect(valid(imagesDialect, body)).toMatchObject({ model: 'gpt-image-1', promptText: 'add a hat', fallbackUsage: { images: 2 } });
    // JSON bodies still parse.
    expect(await imagesDialect.parseRequest!(Buffer.from('{"prompt":"p"}'), 'application/json')).toEqual({ prompt: 'p' });
  });

  it('refuses a form the upstream might read differently', async () => {
    const twice = await encodeForm([['model', 'dall-e-2'], ['model', 'gpt-image-1'], ['prompt', 'p']]);
    await expect(imagesDialect.parseRequest!(twice.body, twice.contentType)).rejects.toThrow(/'model' is sent more than once/);
    const both = await encodeForm([['image', 'text'], ['image', fakeFile(10), 'x.png']]);
    await expect(imagesDialect.parseRequest!(both.body, both.contentType)).rejects.toThrow(/both as text and as a file/);
    const form = await encodeForm([['model', 'dall-e-2'], ['prompt', 'p']]);
    await expect(imagesDialect.parseRequest!(form.body.subarray(0, form.body.length - 20), form.contentType)).rejects.toThrow(/cannot be read/);
    await expect(imagesDialect.parseRequest!(form.body, 'multipart/form-data')).rejects.toThrow(/cannot be read/);
    await expect(imagesDialect.parseRequest!(Buffer.from('{'), 'application/json')).rejects.toThrow('not valid JSON');
    const proto = await encodeForm([['__proto__', 'x'], ['prompt', 'p']]);
    const parsed = (await imagesDialect.parseRequest!(proto.body, proto.contentType)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBeNull();
    expect(parsed.prompt).toBe('p');
  });

  it('meters a gpt-image stream: one image per completed event, with its usage', async () => {
    const bytes = await answer('/v1/images/generations', { model: 'gpt-image-1', prompt: 'p', stream: true }, { 'x-fake-usage': '{"input_tokens":50,"output_tokens":1056}' });
    const { meter: m, out } = meter(imagesDialect, splitAt(bytes, [40, 400]));
    expect(out.equals(bytes)).toBe(true);
    expect(m.sawTerminal()).toBe(true);
    expect(m.usage()).toEqual(usage({ inputTokens: 50, outputTokens: 1056, images: 1 }));
  });
});

describe('speech dialect', () => {
  it('knows the exact usage of the per-character models from the request: characters as code points', () => {
    const input = 'Hello, naïve café ☕ 🚀';
    const request = valid(speechDialect, { model: 'tts-1', input, voice: 'alloy' });
    expect(request.knownUsage).toEqual(usage({ characters: Array.from(input).length }));
    expect(Array.from(input).length).toBeLessThan(input.length); // the rocket is two UTF-16 units, one character
    expect(valid(speechDialect, { model: 'tts-1-hd-1106', input: 'abc', voice: 'alloy' }).knownUsage).toEqual(usage({ characters: 3 }));
    expect(request.fallbackUsage).toBeUndefined();
  });

  it('estimates the audio tokens of a token-priced model, slower speech counting more', () => {
    const request = valid(speechDialect, { model: 'gpt-4o-mini-tts', input: 'x'.repeat(100), voice: 'alloy', instructions: 'Speak calmly.' });
    expect(request.knownUsage).toBeUndefined();
    expect(request.fallbackUsage).toMatchObject({ outputTokens: 100 * AUDIO_TOKENS_PER_CHARACTER });
    expect(request.promptText).toBe(`${'x'.repeat(100)}\nSpeak calmly.`);
    const slow = valid(speechDialect, { model: 'gpt-4o-mini-tts', input: 'x'.repeat(100), voice: 'alloy', speed: 0.5 });
    expect(slow.fallbackUsage?.outputTokens).toBe(2 * 100 * AUDIO_TOKENS_PER_CHARACTER);
    expect(valid(speechDialect, { model: 'gpt-4o-mini-tts', input: 'x', voice: 'a', stream_format: 'sse' }).stream).toBe(true);
  });

  it('validates model, input and the fields it reads', () => {
    expect(speechDialect.validate({ input: 'x', voice: 'alloy' })).toMatchObject({ ok: false, param: 'model' });
    expect(speechDialect.validate({ model: 'tts-1', voice: 'alloy' })).toMatchObject({ ok: false, param: 'input' });
    expect(speechDialect.validate({ model: 'tts-1', input: ['x'] })).toMatchObject({ ok: false, param: 'input' });
    expect(speechDialect.validate({ model: 'tts-1', input: 'x', speed: 0 })).toMatchObject({ ok: false, param: 'speed' });
  });

  it('reads the token usage of a streamed speech from speech.audio.done', async () => {
    const bytes = await answer('/v1/audio/speech', { model: 'gpt-4o-mini-tts', input: 'hi', voice: 'alloy', stream_format: 'sse' }, { 'x-fake-usage': '{"input_tokens":12,"output_tokens":345}' });
    const { meter: m } = meter(speechDialect, splitAt(bytes, [7, 99]));
    expect(m.sawTerminal()).toBe(true);
    expect(m.usage()).toEqual(usage({ inputTokens: 12, outputTokens: 345 }));
  });
});

describe('transcriptions dialect', () => {
  const upload = async (parts: Parameters<typeof encodeForm>[0]) => {
    const form = await encodeForm(parts);
    return transcriptionsDialect.parseRequest!(form.body, form.contentType);
  };

  it('reads model and file from the form, and estimates the seconds from the upload for answers that report none', async () => {
    const body = await upload([['file', fakeFile(160_000), 'talk.mp3'], ['model', 'whisper-1'], ['stream', 'true'], ['prompt', 'Creditgate']]);
    const request = valid(transcriptionsDialect, body);
    expect(request).toMatchObject({ model: 'whisper-1', stream: true, promptText: 'Creditgate' });
    expect(request.fallbackUsage).toEqual(usage({ audioSeconds: (160_000 * 8) / ESTIMATE_BITS_PER_SECOND }));
    expect(transcriptionsDialect.validate(await upload([['model', 'whisper-1']]))).toMatchObject({ ok: false, param: 'file' });
    expect(transcriptionsDialect.validate({ model: 'whisper-1', file: 'x' })).toMatchObject({ ok: false, param: 'file' });
    expect(transcriptionsDialect.validate(await upload([['file', fakeFile(10)], ['file', fakeFile(10)], ['model', 'whisper-1']]))).toMatchObject({ ok: false, param: 'file' });
    expect(transcriptionsDialect.validate(await upload([['file', fakeFile(10)]]))).toMatchObject({ ok: false, param: 'model' });
    expect(transcriptionsDialect.validate(await upload([['file', fakeFile(10)], ['model', 'whisper-1'], ['stream', 'yes']]))).toMatchObject({ ok: false, param: 'stream' });
  });

  it('reads seconds (usage or verbose_json duration) and tokens (with audio input tokens)', async () => {
    const file: [string, Blob, string] = ['file', fakeFile(1000), 'a.mp3'];
    const json = JSON.parse((await formAnswer('/v1/audio/transcriptions', [file, ['model', 'whisper-1']], { 'x-fake-audio-seconds': '90' })).toString());
    expect(expectSameOnSkeleton(transcriptionsDialect, json)).toEqual(usage({ audioSeconds: 90 }));
    const verbose = JSON.parse(
      (await formAnswer('/v1/audio/transcriptions', [file, ['model', 'whisper-1'], ['response_format', 'verbose_json']], { 'x-fake-audio-seconds': '61.5', 'x-fake-behavior': 'no-usage' })).toString(),
    );
    expect(verbose.usage).toBeUndefined();
    expect(expectSameOnSkeleton(transcriptionsDialect, verbose)).toEqual(usage({ audioSeconds: 61.5 }));
    const tokens = JSON.parse(
      (await formAnswer('/v1/audio/transcriptions', [file, ['model', 'gpt-4o-transcribe']], { 'x-fake-usage': '{"input_tokens":1200,"audio_tokens":1000,"output_tokens":300}' })).toString(),
    );
    expect(expectSameOnSkeleton(transcriptionsDialect, tokens)).toEqual(usage({ inputTokens: 1200, audioInputTokens: 1000, outputTokens: 300 }));
    expect(transcriptionsDialect.usageFromBody({ text: 'hi' })).toBeNull();
  });

  it('meters a streamed transcription from transcript.text.done, with the deltas as streamed text', async () => {
    const form = await encodeForm([['file', fakeFile(1000), 'a.mp3'], ['model', 'gpt-4o-mini-transcribe'], ['stream', 'true']]);
    const res = await rawRequest(`${upstream.url}/v1/audio/transcriptions`, {
      body: form.body,
      headers: { 'content-type': form.contentType, 'x-fake-usage': '{"input_tokens":40,"audio_tokens":30,"output_tokens":9}', 'x-fake-behavior': 'deltas=3' },
    });
    const { meter: m } = meter(transcriptionsDialect, splitAt(res.body, [33]));
    expect(m.usage()).toEqual(usage({ inputTokens: 40, audioInputTokens: 30, outputTokens: 9 }));
    expect(m.streamedText()).toBe(DEFAULT_TEXT);
  });
});

describe('moderations dialect', () => {
  it('defaults the model as the API does, and finds no usage in an answer (the API is free)', async () => {
    expect(valid(moderationsDialect, { input: 'hello' })).toMatchObject({ model: 'omni-moderation-latest', promptText: 'hello' });
    expect(moderationsDialect.validate({ model: 'omni-moderation-latest' })).toMatchObject({ ok: false, param: 'input' });
    const body = JSON.parse((await answer('/v1/moderations', { input: ['a', 'b'] })).toString());
    expect(body.results).toHaveLength(2);
    expect(moderationsDialect.usageFromBody(body)).toBeNull();
  });
});
