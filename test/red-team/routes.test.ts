/**
 * Nothing billable leaves unmetered. Each attack here got through before the route allowlist, the
 * path normalisation and per-unit metering: routes passed through unmetered even on a blocked
 * account (batches, realtime keys, assistants), background responses billed for input only, odd
 * spellings of a path routed as another route, and per-unit prices that never applied.
 */
import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { findModelRate, type ModelRate } from '../../shared/rateCard';
import type { UsageRow } from '../../shared/protocol';
import { defaultRateCard } from '../../proxy/pricing';
import { encodeForm, fakeFile } from '../helpers/multipart';
import { sseEvents, startTestGateway, UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY, type TestGateway } from '../helpers/testGateway';

const card = defaultRateCard();
const json = (value: unknown): string => JSON.stringify(value);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON (untyped, as JSON.parse gives it). */
  json(): ReturnType<typeof JSON.parse>;
}

/** A request with its path sent exactly as written (a URL parser would already resolve "..", "%2F"...). */
function send(gw: TestGateway, method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(gw.url).port);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...gw.auth, ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const postJson = (gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}) =>
  send(gw, 'POST', path, { body: json(body), headers: { 'content-type': 'application/json', ...headers } });

async function postForm(gw: TestGateway, path: string, parts: Parameters<typeof encodeForm>[0], headers: Record<string, string> = {}) {
  const form = await encodeForm(parts);
  return send(gw, 'POST', path, { body: form.body, headers: { 'content-type': form.contentType, ...headers } });
}

function rows(gw: TestGateway): UsageRow[] {
  return gw.ledger.usageRows({}).sort((a, b) => a.id - b.id);
}

const lastRow = (gw: TestGateway): UsageRow => rows(gw).at(-1)!;
const micro = (credits: number): number => Math.round(credits * 1_000_000);

function rate(model: string): ModelRate {
  const found = findModelRate(card, model, model.startsWith('claude-') ? 'anthropic' : 'openai');
  if (!found) throw new Error(`${model} is not on the card`);
  return found;
}

/** A list price in US dollars as micro-credits at the card's exchange rate. */
const listPrice = (usd: number): number => Math.round((usd / card.creditUsd) * 1_000_000);

const ANTHROPIC = { 'x-api-key': '', 'anthropic-version': '2023-06-01' };

describe('a blocked account', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ plan: 'free' }); // no allowance, no credits
  });
  afterAll(() => gw.close());
  beforeEach(() => {
    gw.upstream.requests.length = 0;
  });

  const refused: [string, string, unknown, 'openai' | 'anthropic'][] = [
    ['POST', '/v1/messages/batches', { requests: [{ custom_id: 'a', params: { model: 'claude-opus-4-1', max_tokens: 64000, messages: [{ role: 'user', content: 'write a novel' }] } }] }, 'anthropic'],
    ['POST', '/v1/batches', { input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' }, 'openai'],
    ['POST', '/v1/threads/runs', { assistant_id: 'asst_1', thread: { messages: [{ role: 'user', content: 'hi' }] } }, 'openai'],
    ['POST', '/v1/realtime/client_secrets', { session: { type: 'realtime', model: 'gpt-realtime' } }, 'openai'],
    ['POST', '/v1/realtime/sessions', { model: 'gpt-4o-realtime-preview' }, 'openai'],
    ['POST', '/v1/realtime/calls', { sdp: 'v=0' }, 'openai'],
    ['POST', '/v1/assistants', { model: 'gpt-5', instructions: 'x' }, 'openai'],
    ['POST', '/v1/fine_tuning/jobs', { model: 'gpt-4o-mini', training_file: 'file-1' }, 'openai'],
    ['POST', '/v1/vector_stores', { name: 'docs' }, 'openai'],
    ['POST', '/v1/uploads', { filename: 'a.jsonl', purpose: 'batch', bytes: 10, mime_type: 'text/jsonl' }, 'openai'],
    ['POST', '/v1/containers', { name: 'c' }, 'openai'],
    ['POST', '/v1/evals', { name: 'e' }, 'openai'],
    ['GET', '/v1/batches', undefined, 'openai'],
    ['POST', '/v1/complete', { model: 'claude-2.1', prompt: '\n\nHuman: hi\n\nAssistant:', max_tokens_to_sample: 100 }, 'anthropic'],
    ['POST', '/v1/unheard-of', { model: 'gpt-5' }, 'openai'],
  ];

  it.each(refused)('refuses %s %s in the API’s own shape, without reaching the upstream or writing a row', async (method, path, body, vendor) => {
    const headers = vendor === 'anthropic' ? { ...ANTHROPIC, 'x-api-key': gw.token } : {};
    const res = await send(gw, method, path, { body: body === undefined ? undefined : json(body), headers: { 'content-type': 'application/json', ...headers } });
    expect(res.status).toBe(403);
    const error = res.json();
    if (vendor === 'anthropic') {
      expect(error).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
      expect(Object.keys(error.error).sort()).toEqual(['message', 'type']);
    } else {
      expect(error).toMatchObject({ error: { type: 'invalid_request_error', code: 'route_not_metered', param: null } });
    }
    expect(error.error.message).toContain(`Creditgate cannot meter ${method} ${path}`);
    expect(gw.upstream.requests).toHaveLength(0);
    expect(rows(gw)).toHaveLength(0);
  });

  it('never upgrades a realtime WebSocket: the upgrade is answered as a refused route', async () => {
    const res = await send(gw, 'GET', '/v1/realtime?model=gpt-realtime', { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    expect(res.status).toBe(403);
    expect(res.json().error.code).toBe('route_not_metered');
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('refuses a multipart upload to an unmetered route too (files, fine-tuning data)', async () => {
    const res = await postForm(gw, '/v1/files', [['purpose', 'batch'], ['file', fakeFile(500, 'application/jsonl'), 'batch.jsonl']]);
    expect(res.status).toBe(403);
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('is refused on every per-unit route, JSON or multipart, before anything goes upstream', async () => {
    const attempts = [
      postJson(gw, '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'hi' }),
      postJson(gw, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }),
      postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'a cat' }),
      postJson(gw, '/v1/images/generations', { prompt: 'a cat, no model named' }),
      postForm(gw, '/v1/images/edits', [['image', fakeFile(100, 'image/png'), 'a.png'], ['prompt', 'hat'], ['model', 'gpt-image-1']]),
      postJson(gw, '/v1/audio/speech', { model: 'tts-1', input: 'hello', voice: 'alloy' }),
      postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(1000), 'a.mp3'], ['model', 'whisper-1']]),
      postForm(gw, '/v1/audio/translations', [['file', fakeFile(1000), 'a.mp3'], ['model', 'whisper-1']]),
      postJson(gw, '/v1/moderations', { input: 'hello' }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(429);
      expect(res.json().error).toMatchObject({ type: 'usage_limit_reached', state: 'blocked' });
    }
    expect(gw.upstream.requests).toHaveLength(0);
    expect(rows(gw)).toHaveLength(0);
  });

  it('still gets the free routes, with the upstream key in place of its token and no usage row', async () => {
    const free: [string, string, unknown, 'openai' | 'anthropic'][] = [
      ['GET', '/v1/models', undefined, 'openai'],
      ['GET', '/v1/responses/resp_123', undefined, 'openai'],
      ['POST', '/v1/responses/input_tokens', { model: 'gpt-5', input: 'how many tokens is this?' }, 'openai'],
      ['POST', '/v1/messages/count_tokens?beta=true', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }, 'anthropic'],
    ];
    for (const [method, path, body, vendor] of free) {
      gw.upstream.requests.length = 0;
      const headers = vendor === 'anthropic' ? { ...ANTHROPIC, 'x-api-key': gw.token, authorization: '' } : {};
      const res = await send(gw, method, path, { body: body === undefined ? undefined : json(body), headers: { 'content-type': 'application/json', ...headers } });
      expect(res.status, `${method} ${path}`).toBe(200);
      const [forwarded] = gw.upstream.requests;
      expect(forwarded!.url).toBe(path);
      if (vendor === 'anthropic') expect(forwarded!.headers['x-api-key']).toBe(UPSTREAM_ANTHROPIC_KEY);
      else expect(forwarded!.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
      expect(JSON.stringify(forwarded!.headers)).not.toContain(gw.token);
    }
    expect(rows(gw)).toHaveLength(0);
  });
});

describe('metered routes (plan pro, with credits)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ plan: 'pro' });
    // Images, audio and embeddings are not plan features: they run on credits.
    gw.ledger.addCredits({ amount: 1_000_000_000, idempotencyKey: 'red-team', source: 'promo' });
  });
  afterAll(() => gw.close());
  beforeEach(() => {
    gw.upstream.requests.length = 0;
  });

  describe('Responses in background mode', () => {
    it('is refused with a 400 that says why, and nothing is forwarded or billed', async () => {
      const before = rows(gw).length;
      const res = await postJson(gw, '/v1/responses', { model: 'gpt-5', input: 'write a long report', background: true });
      expect(res.status).toBe(400);
      expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param: 'background' });
      expect(res.json().error.message).toMatch(/Background responses .* cannot be metered through Creditgate/);
      expect(gw.upstream.requests).toHaveLength(0);
      expect(rows(gw)).toHaveLength(before);
      // background: false is an ordinary request.
      expect((await postJson(gw, '/v1/responses', { model: 'gpt-5', input: 'hi', background: false })).status).toBe(200);
    });
  });

  describe('odd spellings of a path', () => {
    const chat = { model: 'gpt-5', messages: [{ role: 'user', content: 'hello there' }] };
    const claude = { model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'hello there' }] };

    async function meteredAs(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
      gw.upstream.requests.length = 0;
      const res = await send(gw, method, path, { body: json(body), headers: { 'content-type': 'application/json', ...headers } });
      expect(res.status, path).toBe(200);
      const row = lastRow(gw);
      return { res, row, upstream: gw.upstream.requests[0]! };
    }

    it('meters /v1//chat/completions exactly as /v1/chat/completions, which is what reaches the upstream', async () => {
      const canonical = await meteredAs('POST', '/v1/chat/completions', chat);
      const doubled = await meteredAs('POST', '/v1//chat/completions', chat);
      const both = await meteredAs('POST', '//v1//chat//completions/', chat);
      for (const spelled of [doubled, both]) {
        expect(spelled.upstream.url).toBe('/v1/chat/completions');
        expect(spelled.row).toMatchObject({ route: '/v1/chat/completions', model: 'gpt-5', estimated: false, inputTokens: canonical.row.inputTokens, cost: canonical.row.cost });
      }
      expect(canonical.row.inputTokens).toBeGreaterThan(0);
    });

    it('adds include_usage to a stream on the doubled-slash path too, so its output is billed', async () => {
      const stream = await meteredAs('POST', '/v1//chat/completions', { ...chat, stream: true });
      expect(JSON.parse(stream.upstream.body).stream_options).toEqual({ include_usage: true });
      expect(stream.row).toMatchObject({ estimated: false, outputTokens: 8 });
    });

    it('meters /v1/messages/ (trailing slash, with its query) exactly as /v1/messages', async () => {
      const headers = { ...ANTHROPIC, 'x-api-key': gw.token };
      const canonical = await meteredAs('POST', '/v1/messages?beta=true', claude, headers);
      const trailing = await meteredAs('POST', '/v1/messages/?beta=true', claude, headers);
      expect(trailing.upstream.url).toBe('/v1/messages?beta=true');
      expect(trailing.row).toMatchObject({ route: '/v1/messages', inputTokens: canonical.row.inputTokens, cost: canonical.row.cost });
      expect(canonical.row.inputTokens).toBeGreaterThan(0);
    });

    it.each([
      ['GET', '/v1/models/../batches'],
      ['POST', '/v1/./chat/completions'],
      ['POST', '/v1/chat%2Fcompletions'],
      ['POST', '/v1/chat%2fcompletions'],
      ['POST', '/v1/%2e%2e/v1/batches'],
      ['POST', '/v1/chat/completions/..'],
      ['POST', '/v1/chat%5Ccompletions'],
      ['POST', '/v1/batches;/chat/completions'],
    ])('refuses %s %s with a 400 and forwards nothing', async (method, path) => {
      const before = rows(gw).length;
      const res = await send(gw, method, path, { body: method === 'GET' ? undefined : json(chat), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.json().error).toMatchObject({ type: 'invalid_request_error' });
      expect(res.json().error.message).toContain('ambiguous request paths');
      expect(gw.upstream.requests).toHaveLength(0);
      expect(rows(gw)).toHaveLength(before);
    });

    it('answers a bad Anthropic path in the Anthropic shape', async () => {
      const res = await send(gw, 'POST', '/v1/messages/%2e%2e/batches', { body: json(claude), headers: { ...ANTHROPIC, 'x-api-key': gw.token } });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    });
  });

  describe('per-unit routes cost exactly their list price', () => {
    /** Checks the row and returns its cost in micro-credits. */
    function billed(model: string, route: string, estimated = false): number {
      const row = lastRow(gw);
      expect(row).toMatchObject({ model, route, estimated });
      return micro(row.cost);
    }

    it('legacy Completions, in tokens', async () => {
      const r = rate('gpt-3.5-turbo-instruct');
      const res = await postJson(gw, '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' }, { 'x-fake-usage': json({ input_tokens: 1000, output_tokens: 500 }) });
      expect(res.status).toBe(200);
      const expected = 1000 * r.input + 500 * r.output;
      expect(expected).toBe(listPrice((1000 * 1.5 + 500 * 2) / 1e6)); // $1.50 in, $2 out per 1M
      expect(billed('gpt-3.5-turbo-instruct', '/v1/completions')).toBe(expected);
    });

    it('legacy Completions streamed: usage asked for, its chunk hidden, output billed', async () => {
      const r = rate('gpt-3.5-turbo-instruct');
      const res = await postJson(gw, '/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', stream: true }, { 'x-fake-usage': json({ input_tokens: 1000, output_tokens: 500 }) });
      expect(JSON.parse(gw.upstream.requests[0]!.body).stream_options).toEqual({ include_usage: true });
      const events = sseEvents(res.body.toString());
      expect(events.at(-1)!.data).toBe('[DONE]');
      expect(events.some((e) => (e.data as { usage?: unknown })?.usage)).toBe(false);
      expect(lastRow(gw).outputTokens).toBe(500);
      expect(billed('gpt-3.5-turbo-instruct', '/v1/completions')).toBe(1000 * r.input + 500 * r.output);
    });

    it('embeddings, as input tokens', async () => {
      const r = rate('text-embedding-3-small');
      await postJson(gw, '/v1/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] }, { 'x-fake-usage': json({ input_tokens: 10_000 }) });
      expect(10_000 * r.input).toBe(listPrice((10_000 * 0.02) / 1e6)); // $0.02 per 1M
      expect(billed('text-embedding-3-small', '/v1/embeddings')).toBe(10_000 * r.input);
    });

    it('dall-e, per image in data', async () => {
      await postJson(gw, '/v1/images/generations', { model: 'dall-e-3', prompt: 'a cat' });
      expect(billed('dall-e-3', '/v1/images/generations')).toBe(micro(rate('dall-e-3').per_image!));
      expect(micro(rate('dall-e-3').per_image!)).toBe(listPrice(0.04));
      // No model named: the API's default, dall-e-2, three images.
      await postJson(gw, '/v1/images/generations', { prompt: 'a cat', n: 3 });
      expect(billed('dall-e-2', '/v1/images/generations')).toBe(3 * micro(rate('dall-e-2').per_image!));
      expect(micro(rate('dall-e-2').per_image!)).toBe(listPrice(0.02));
    });

    it('gpt-image, in tokens: one medium 1024² image costs its list price', async () => {
      const r = rate('gpt-image-1');
      await postJson(gw, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat', quality: 'medium', size: '1024x1024' }, { 'x-fake-usage': json({ input_tokens: 50, output_tokens: 1056 }) });
      const expected = 50 * r.input + 1056 * r.output;
      // OpenAI lists a medium 1024×1024 image at 1,056 output tokens ($0.042), plus the prompt's text tokens.
      expect(expected).toBe(listPrice((50 * 5 + 1056 * 40) / 1e6));
      expect(billed('gpt-image-1', '/v1/images/generations')).toBe(expected);
    });

    it('gpt-image edits (multipart): image input tokens at the image input price', async () => {
      const r = rate('gpt-image-1');
      const res = await postForm(
        gw,
        '/v1/images/edits',
        [['image[]', fakeFile(3000, 'image/png'), 'a.png'], ['model', 'gpt-image-1'], ['prompt', 'add a hat']],
        { 'x-fake-usage': json({ input_tokens: 300, image_tokens: 250, output_tokens: 1056 }) },
      );
      expect(res.status).toBe(200);
      // The upload reached the upstream byte for byte.
      expect(gw.upstream.requests[0]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      const expected = 50 * r.input + 250 * r.image_input! + 1056 * r.output;
      expect(expected).toBe(listPrice((50 * 5 + 250 * 10 + 1056 * 40) / 1e6));
      expect(billed('gpt-image-1', '/v1/images/edits')).toBe(expected);
    });

    it('gpt-image streamed: the completed event’s usage', async () => {
      const r = rate('gpt-image-1');
      await postJson(gw, '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a cat', stream: true }, { 'x-fake-usage': json({ input_tokens: 50, output_tokens: 4160 }) });
      expect(billed('gpt-image-1', '/v1/images/generations')).toBe(50 * r.input + 4160 * r.output);
    });

    it('text to speech with tts-1 and tts-1-hd: the characters of input, from the request', async () => {
      const input = `${'Creditgate meters speech. '.repeat(38)}naïve ☕🚀`; // 988 + 10 characters, 🚀 is one
      const characters = Array.from(input).length;
      for (const [model, usdPerMillion] of [['tts-1', 15], ['tts-1-hd', 30]] as const) {
        const res = await postJson(gw, '/v1/audio/speech', { model, input, voice: 'alloy' });
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('audio/mpeg');
        const expected = micro(characters * rate(model).per_character!);
        expect(expected).toBe(listPrice((characters * usdPerMillion) / 1e6));
        expect(billed(model, '/v1/audio/speech')).toBe(expected);
      }
    });

    it('text to speech with gpt-4o-mini-tts streamed as SSE: its token usage', async () => {
      const r = rate('gpt-4o-mini-tts');
      await postJson(gw, '/v1/audio/speech', { model: 'gpt-4o-mini-tts', input: 'hello', voice: 'alloy', stream_format: 'sse' }, { 'x-fake-usage': json({ input_tokens: 100, output_tokens: 2000 }) });
      const expected = 100 * r.input + 2000 * r.output;
      expect(expected).toBe(listPrice((100 * 0.6 + 2000 * 12) / 1e6));
      expect(billed('gpt-4o-mini-tts', '/v1/audio/speech')).toBe(expected);
    });

    it('text to speech with gpt-4o-mini-tts as audio bytes: an estimate of its audio tokens, flagged', async () => {
      await postJson(gw, '/v1/audio/speech', { model: 'gpt-4o-mini-tts', input: 'x'.repeat(1000), voice: 'alloy' });
      const row = lastRow(gw);
      expect(row).toMatchObject({ model: 'gpt-4o-mini-tts', estimated: true, reason: 'no_usage', outputTokens: 1500 });
      expect(row.cost).toBeGreaterThan(0);
    });

    it('whisper-1 transcription and translation: the seconds the answer reports', async () => {
      const perSecond = rate('whisper-1').per_audio_second!;
      expect(micro(60 * perSecond)).toBe(listPrice(0.006)); // $0.006 a minute
      await postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(5000), 'talk.mp3'], ['model', 'whisper-1']], { 'x-fake-audio-seconds': '90' });
      expect(billed('whisper-1', '/v1/audio/transcriptions')).toBe(micro(90 * perSecond));
      await postForm(gw, '/v1/audio/translations', [['file', fakeFile(5000), 'talk.mp3'], ['model', 'whisper-1']], { 'x-fake-audio-seconds': '30' });
      expect(billed('whisper-1', '/v1/audio/translations')).toBe(micro(30 * perSecond));
      // verbose_json without a usage object: its duration.
      await postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(5000), 'talk.mp3'], ['model', 'whisper-1'], ['response_format', 'verbose_json']], {
        'x-fake-audio-seconds': '61.5',
        'x-fake-behavior': 'no-usage',
      });
      expect(billed('whisper-1', '/v1/audio/transcriptions')).toBe(micro(61.5 * perSecond));
    });

    it('gpt-4o-transcribe: text and audio input tokens and output tokens', async () => {
      const r = rate('gpt-4o-transcribe');
      await postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(5000), 'talk.mp3'], ['model', 'gpt-4o-transcribe']], {
        'x-fake-usage': json({ input_tokens: 1200, audio_tokens: 1000, output_tokens: 300 }),
      });
      const expected = 200 * r.input + 1000 * r.audio_input! + 300 * r.output;
      expect(expected).toBe(listPrice((200 * 2.5 + 1000 * 6 + 300 * 10) / 1e6));
      expect(billed('gpt-4o-transcribe', '/v1/audio/transcriptions')).toBe(expected);
    });

    it('a transcription answered as plain text: seconds estimated from the upload, flagged', async () => {
      const bytes = 160_000; // 40 s at the assumed 32 kbit/s
      const res = await postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(bytes), 'talk.mp3'], ['model', 'whisper-1'], ['response_format', 'text']]);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(lastRow(gw)).toMatchObject({ estimated: true, reason: 'no_usage' });
      expect(billed('whisper-1', '/v1/audio/transcriptions', true)).toBe(micro(40 * rate('whisper-1').per_audio_second!));
    });

    it('moderation: admitted and recorded, at 0 on the default card', async () => {
      const res = await postJson(gw, '/v1/moderations', { input: ['is this fine?', 'and this?'] });
      expect(res.status).toBe(200);
      expect(res.headers['x-creditgate-request-id']).toBeDefined();
      expect(lastRow(gw)).toMatchObject({ model: 'omni-moderation-latest', route: '/v1/moderations', cost: 0 });
    });

    it('refuses a multipart body it cannot read unambiguously, before forwarding', async () => {
      const res = await postForm(gw, '/v1/audio/transcriptions', [['file', fakeFile(100), 'a.mp3'], ['model', 'tts-1'], ['model', 'whisper-1']]);
      expect(res.status).toBe(400);
      expect(res.json().error.message).toContain("'model' is sent more than once");
      const noFile = await postJson(gw, '/v1/audio/transcriptions', { model: 'whisper-1' });
      expect(noFile.status).toBe(400);
      expect(noFile.json().error.param).toBe('file');
      expect(gw.upstream.requests).toHaveLength(0);
    });
  });
});
