import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MeteredUsage } from '../shared/usage';
import type { Dialect, StreamMeter, StreamMeterOptions } from '../proxy/dialects/types';
import {
  anthropicApi,
  chatCompletionsDialect,
  completionsDialect,
  embeddingsDialect,
  imagesDialect,
  messagesDialect,
  moderationsDialect,
  openAiApi,
  responsesDialect,
  routeFor,
  speechDialect,
  transcriptionsDialect,
} from '../proxy/dialects';
import { HTTP_STATUS } from '../proxy/gateway/respond';
import { DEFAULT_TEXT, rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { splitAt } from './helpers/splitAt';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(() => upstream.close());

/** A real response body from the fake upstream (fetch undoes any compression, as the gateway does). */
async function fixture(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await fetch(upstream.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return Buffer.from(await res.arrayBuffer());
}

function meterStream(dialect: Dialect, chunks: Buffer[], options: StreamMeterOptions = {}): { meter: StreamMeter; out: Buffer; writes: Buffer[] } {
  const meter = dialect.createStreamMeter(options);
  const writes = chunks.map((chunk) => meter.push(chunk));
  writes.push(meter.end());
  return { meter, out: Buffer.concat(writes), writes };
}

const cutsArb = fc.array(fc.nat(), { maxLength: 10 });
const openAiUsage = (fields: Partial<MeteredUsage>): MeteredUsage => ({
  vendor: 'openai',
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  ...fields,
});
const FAKE_USAGE = JSON.stringify({ input_tokens: 1200, cached_tokens: 200, cache_write_tokens: 100, output_tokens: 300, reasoning_tokens: 120 });
const EXPECTED_OPENAI = openAiUsage({ inputTokens: 1200, cachedInputTokens: 200, cacheWriteTokens: 100, outputTokens: 300, reasoningTokens: 120 });

describe('routeFor: the route allowlist', () => {
  const metered = (method: string, path: string) => {
    const route = routeFor(method, path);
    return route?.kind === 'metered' ? route.api : route?.kind;
  };

  it('meters each billable route with its dialect', () => {
    expect(metered('POST', '/v1/responses')).toBe(responsesDialect);
    expect(metered('POST', '/v1/chat/completions')).toBe(chatCompletionsDialect);
    expect(metered('POST', '/v1/messages')).toBe(messagesDialect);
    expect(metered('POST', '/v1/completions')).toBe(completionsDialect);
    expect(metered('POST', '/v1/embeddings')).toBe(embeddingsDialect);
    for (const kind of ['generations', 'edits', 'variations']) expect(metered('POST', `/v1/images/${kind}`)).toBe(imagesDialect);
    expect(metered('POST', '/v1/audio/speech')).toBe(speechDialect);
    expect(metered('POST', '/v1/audio/transcriptions')).toBe(transcriptionsDialect);
    expect(metered('POST', '/v1/audio/translations')).toBe(transcriptionsDialect);
    expect(metered('POST', '/v1/moderations')).toBe(moderationsDialect);
  });

  it('passes only what cannot cost anything, each to its own upstream', () => {
    const free: [string, string, typeof openAiApi][] = [
      ['GET', '/v1/models', openAiApi],
      ['GET', '/v1/models/ft:gpt-4o-mini:acme::abc123', openAiApi],
      ['POST', '/v1/messages/count_tokens', anthropicApi],
      ['POST', '/v1/responses/input_tokens', openAiApi],
      ['GET', '/v1/responses/resp_1', openAiApi],
      ['DELETE', '/v1/responses/resp_1', openAiApi],
      ['GET', '/v1/responses/resp_1/input_items', openAiApi],
      ['POST', '/v1/responses/resp_1/cancel', openAiApi],
    ];
    for (const [method, path, api] of free) expect(routeFor(method, path), `${method} ${path}`).toEqual({ kind: 'free', api });
  });

  it("refuses everything else under /v1, in the API's own error shape, and leaves other paths to the gateway", () => {
    const refused = [
      ['POST', '/v1/batches', openAiApi],
      ['POST', '/v1/messages/batches', anthropicApi],
      ['GET', '/v1/messages/batches/msgbatch_1/results', anthropicApi],
      ['POST', '/v1/complete', anthropicApi],
      ['POST', '/v1/realtime/client_secrets', openAiApi],
      ['POST', '/v1/realtime/sessions', openAiApi],
      ['POST', '/v1/realtime/calls', openAiApi],
      ['POST', '/v1/threads/runs', openAiApi],
      ['POST', '/v1/assistants', openAiApi],
      ['POST', '/v1/fine_tuning/jobs', openAiApi],
      ['POST', '/v1/files', openAiApi],
      ['POST', '/v1/vector_stores', openAiApi],
      ['POST', '/v1/uploads', openAiApi],
      ['POST', '/v1/containers', openAiApi],
      ['POST', '/v1/evals', openAiApi],
      ['POST', '/v1/responses/compact', openAiApi],
      ['GET', '/v1/chat/completions', openAiApi],
      ['POST', '/v1/models', openAiApi],
      ['PUT', '/v1/responses', openAiApi],
      ['POST', '/v1/something-new', openAiApi],
    ] as const;
    for (const [method, path, api] of refused) {
      const route = routeFor(method, path);
      expect(route, `${method} ${path}`).toMatchObject({ kind: 'refused', api });
      if (route?.kind === 'refused') expect(route.message).toContain(`${method} ${path}`);
    }
    expect(routeFor('GET', '/healthz')).toBeNull();
    expect(routeFor('GET', '/creditgate/v1/status')).toBeNull();
    expect(routeFor('POST', '/v1')).toBeNull();
  });
});

describe('Responses dialect', () => {
  const request = { model: 'gpt-5-codex', input: [{ role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }], stream: true };

  it('meters a real stream at any split, handing each chunk back untouched', async () => {
    const bytes = await fixture('/v1/responses', request, { 'x-fake-usage': FAKE_USAGE });
    fc.assert(
      fc.property(cutsArb, (cuts) => {
        const chunks = splitAt(bytes, cuts);
        const { meter, writes } = meterStream(responsesDialect, chunks);
        chunks.forEach((chunk, i) => expect(writes[i]).toBe(chunk));
        expect(meter.usage()).toEqual(EXPECTED_OPENAI);
        expect(meter.sawTerminal()).toBe(true);
        expect(meter.streamedText()).toBe(DEFAULT_TEXT);
      }),
      { numRuns: 100 },
    );
  });

  it.each(['incomplete', 'failed'])('bills the usage of response.%s, a terminal event too', async (terminal) => {
    const bytes = await fixture('/v1/responses', request, { 'x-fake-usage': FAKE_USAGE, 'x-fake-behavior': `terminal=${terminal}` });
    const { meter } = meterStream(responsesDialect, [bytes]);
    expect(meter.usage()).toEqual(EXPECTED_OPENAI);
    expect(meter.sawTerminal()).toBe(true);
  });

  it('reports no usage and no terminal for a cut stream, with the text streamed so far', async () => {
    // created, in_progress, output_item.added, content_part.added, then two of four deltas
    const cut = await rawRequest(`${upstream.url}/v1/responses`, {
      body: JSON.stringify(request),
      headers: { 'x-fake-behavior': 'cut=6,deltas=4', 'x-fake-text': 'aaaabbbbccccdddd' },
    });
    expect(cut.complete).toBe(false);
    const { meter, out } = meterStream(responsesDialect, [cut.body]);
    expect(out.equals(cut.body)).toBe(true);
    expect(meter.usage()).toBeNull();
    expect(meter.sawTerminal()).toBe(false);
    expect(meter.streamedText()).toBe('aaaabbbb');
  });

  it('reads usage from a non-streaming body', async () => {
    const body = JSON.parse((await fixture('/v1/responses', { ...request, stream: false }, { 'x-fake-usage': FAKE_USAGE })).toString());
    expect(responsesDialect.usageFromBody(body)).toEqual(EXPECTED_OPENAI);
    expect(responsesDialect.usageFromBody({ output: [] })).toBeNull();
  });

  it('injects the beforeTerminal bytes right before response.completed, once, at any split', async () => {
    const bytes = await fixture('/v1/responses', request, { 'x-fake-usage': FAKE_USAGE });
    const injected = Buffer.from('event: codex.rate_limits\ndata: {"type":"codex.rate_limits"}\n\n');
    const text = bytes.toString('utf8');
    const at = text.indexOf('event: response.completed');
    expect(at).toBeGreaterThan(0);
    const wanted = text.slice(0, at) + injected.toString() + text.slice(at);
    fc.assert(
      fc.property(cutsArb, (cuts) => {
        const calls: (MeteredUsage | null)[] = [];
        const { meter, out } = meterStream(responsesDialect, splitAt(bytes, cuts), {
          beforeTerminal: (usage) => {
            calls.push(usage);
            return injected;
          },
        });
        expect(out.toString('utf8')).toBe(wanted);
        expect(calls).toEqual([EXPECTED_OPENAI]);
        expect(meter.usage()).toEqual(EXPECTED_OPENAI);
      }),
      { numRuns: 100 },
    );
  });

  it('writes the stream unchanged when beforeTerminal returns nothing, and never calls it without a terminal event', async () => {
    const bytes = await fixture('/v1/responses', request);
    expect(meterStream(responsesDialect, splitAt(bytes, [50, 51, 700]), { beforeTerminal: () => null }).out.equals(bytes)).toBe(true);
    let called = false;
    const head = bytes.subarray(0, bytes.indexOf('event: response.completed'));
    meterStream(responsesDialect, [head], { beforeTerminal: () => ((called = true), null) });
    expect(called).toBe(false);
  });

  it('holds the terminal event and all after it when beforeTerminal answers hold, and releases them behind the late bytes, at any split', async () => {
    const bytes = await fixture('/v1/responses', request, { 'x-fake-usage': FAKE_USAGE });
    const injected = Buffer.from('event: codex.rate_limits\ndata: {"type":"codex.rate_limits"}\n\n');
    const text = bytes.toString('utf8');
    const at = text.indexOf('event: response.completed');
    fc.assert(
      fc.property(cutsArb, fc.boolean(), (cuts, withEvent) => {
        let calls = 0;
        const { meter, out } = meterStream(responsesDialect, splitAt(bytes, cuts), { beforeTerminal: () => (calls++, 'hold') });
        // Up to the terminal event the stream passed; the rest waited, even through end().
        expect(out.toString('utf8')).toBe(text.slice(0, at));
        expect(calls).toBe(1);
        expect(meter.usage()).toEqual(EXPECTED_OPENAI);
        const released = meter.release(withEvent ? injected : null).toString('utf8');
        expect(released).toBe((withEvent ? injected.toString() : '') + text.slice(at));
        // Released once: the stream passes as before from then on.
        expect(meter.release(injected).toString('utf8')).toBe(injected.toString());
        expect(meter.push(Buffer.from(': ping\n\n')).toString('utf8')).toBe(': ping\n\n');
      }),
      { numRuns: 100 },
    );
  });

  it('validates the fields it reads, answering in the OpenAI error shape', () => {
    const cases: [unknown, string][] = [
      [[], ''],
      [{ input: 'x' }, 'model'],
      [{ model: 5, input: 'x' }, 'model'],
      [{ model: 'm' }, 'input'],
      [{ model: 'm', input: 5 }, 'input'],
      [{ model: 'm', input: 'x', stream: 'true' }, 'stream'],
      [{ model: 'm', input: 'x', max_output_tokens: -1 }, 'max_output_tokens'],
      [{ model: 'm', input: 'x', max_output_tokens: 1.5 }, 'max_output_tokens'],
    ];
    for (const [body, param] of cases) {
      const validation = responsesDialect.validate(body);
      expect(validation.ok, JSON.stringify(body)).toBe(false);
      if (validation.ok) continue;
      expect(validation.param).toBe(param);
      expect(responsesDialect.errorBody('invalid_request', validation.message, { param: validation.param })).toEqual({
        error: { message: validation.message, type: 'invalid_request_error', param: validation.param, code: null },
      });
    }
  });

  it('describes a valid request: stream, output cap, prompt text from instructions, input and tools', () => {
    const validation = responsesDialect.validate({
      model: 'gpt-5-codex',
      instructions: 'Be terse.',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }, { type: 'reasoning', encrypted_content: 'gAAAA' }],
      tools: [{ type: 'function', name: 'shell' }],
      stream: true,
      max_output_tokens: null,
    });
    expect(validation.ok).toBe(true);
    if (!validation.ok) return;
    expect(validation.request).toMatchObject({ model: 'gpt-5-codex', stream: true, maxOutputTokens: null });
    expect(validation.request.promptText).toContain('Be terse.');
    expect(validation.request.promptText).toContain('say hi');
    expect(validation.request.promptText).toContain('"shell"');
    expect(validation.request.promptText).not.toContain('gAAAA');
  });
});

describe('Chat Completions dialect', () => {
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true };

  it('asks for include_usage on a copy of the body, only when streaming without it', () => {
    const valid = chatCompletionsDialect.validate(request);
    if (!valid.ok) throw new Error(valid.message);
    const body = { ...request, stream_options: { other: 1 } };
    const prepared = chatCompletionsDialect.prepare(body, valid.request);
    expect(prepared).toEqual({ body: { ...request, stream_options: { other: 1, include_usage: true } }, stripUsageChunk: true });
    expect(body.stream_options).toEqual({ other: 1 });

    const asked = { ...request, stream_options: { include_usage: true } };
    expect(chatCompletionsDialect.prepare(asked, valid.request)).toEqual({ body: asked, stripUsageChunk: false });
    const plain = { ...request, stream: false };
    expect(chatCompletionsDialect.prepare(plain, { ...valid.request, stream: false }).body).toBe(plain);
  });

  it('strips exactly the usage-only chunk it asked for, leaving every other byte, at any split', async () => {
    const bytes = await fixture('/v1/chat/completions', { ...request, stream_options: { include_usage: true } }, { 'x-fake-usage': FAKE_USAGE });
    const blocks = bytes.toString('utf8').split(/(?<=\n\n)/);
    const usageBlocks = blocks.filter((block) => block.includes('"choices":[]'));
    expect(usageBlocks).toHaveLength(1);
    const wanted = blocks.filter((block) => !block.includes('"choices":[]')).join('');
    expect(wanted.endsWith('data: [DONE]\n\n')).toBe(true);
    fc.assert(
      fc.property(cutsArb, (cuts) => {
        const { meter, out } = meterStream(chatCompletionsDialect, splitAt(bytes, cuts), { stripUsageChunk: true });
        expect(out.toString('utf8')).toBe(wanted);
        expect(meter.usage()).toEqual(EXPECTED_OPENAI);
        expect(meter.sawTerminal()).toBe(true);
        expect(meter.streamedText()).toBe(DEFAULT_TEXT);
      }),
      { numRuns: 100 },
    );
  });

  it('passes the usage chunk the client asked for, chunk for chunk', async () => {
    const bytes = await fixture('/v1/chat/completions', { ...request, stream_options: { include_usage: true } }, { 'x-fake-usage': FAKE_USAGE });
    const chunks = splitAt(bytes, [10, 500, 501, 1200]);
    const { meter, writes } = meterStream(chatCompletionsDialect, chunks, {});
    chunks.forEach((chunk, i) => expect(writes[i]).toBe(chunk));
    expect(meter.usage()).toEqual(EXPECTED_OPENAI);
  });

  it('keeps a chunk that carries usage alongside choices (some providers do)', () => {
    const stream = 'data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\ndata: [DONE]\n\n';
    const { meter, out } = meterStream(chatCompletionsDialect, [Buffer.from(stream)], { stripUsageChunk: true });
    expect(out.toString()).toBe(stream);
    expect(meter.usage()).toEqual(openAiUsage({ inputTokens: 3, outputTokens: 1 }));
    expect(meter.streamedText()).toBe('x');
  });

  it('collects tool-call arguments as streamed text', () => {
    const chunk = { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'shell', arguments: '{"cmd":' } }] } }] };
    const { meter } = meterStream(chatCompletionsDialect, [Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`)]);
    expect(meter.streamedText()).toBe('shell{"cmd":');
    expect(meter.sawTerminal()).toBe(false);
  });

  it('reads usage from a non-streaming body', async () => {
    const body = JSON.parse((await fixture('/v1/chat/completions', { ...request, stream: false }, { 'x-fake-usage': FAKE_USAGE })).toString());
    expect(chatCompletionsDialect.usageFromBody(body)).toEqual(EXPECTED_OPENAI);
  });

  it('validates the fields it reads', () => {
    const cases: [unknown, string][] = [
      [{ messages: [] }, 'model'],
      [{ model: 'm' }, 'messages'],
      [{ model: 'm', messages: {} }, 'messages'],
      [{ model: 'm', messages: [], stream: 1 }, 'stream'],
      [{ model: 'm', messages: [], max_tokens: '10' }, 'max_tokens'],
      [{ model: 'm', messages: [], max_completion_tokens: -2 }, 'max_completion_tokens'],
      [{ model: 'm', messages: [], n: 0.5 }, 'n'],
    ];
    for (const [body, param] of cases) {
      const validation = chatCompletionsDialect.validate(body);
      expect(validation.ok ? null : validation.param, JSON.stringify(body)).toBe(param);
    }
    const valid = chatCompletionsDialect.validate({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], max_tokens: 5, max_completion_tokens: 9, n: null });
    expect(valid).toMatchObject({ ok: true, request: { model: 'm', stream: false, maxOutputTokens: 9, promptText: 'hello' } });
  });
});

describe('Messages dialect', () => {
  const request = { model: 'claude-sonnet-4-5', max_tokens: 64000, messages: [{ role: 'user', content: 'hi' }], stream: true };
  const anthropicUsage = { vendor: 'anthropic', inputTokens: 40, cachedInputTokens: 3000, cacheWriteTokens: 500, cacheWrite1hTokens: 200, outputTokens: 77, reasoningTokens: 0 };
  const headers = {
    'x-fake-usage': JSON.stringify({ input_tokens: 40, cache_read_input_tokens: 3000, cache_creation_input_tokens: 500, cache_creation_1h_input_tokens: 200, output_tokens: 77 }),
  };

  it('meters a real stream at any split: message_start input and cache, message_delta output', async () => {
    const bytes = await fixture('/v1/messages?beta=true', request, headers);
    fc.assert(
      fc.property(cutsArb, (cuts) => {
        const chunks = splitAt(bytes, cuts);
        const { meter, writes } = meterStream(messagesDialect, chunks);
        chunks.forEach((chunk, i) => expect(writes[i]).toBe(chunk));
        expect(meter.usage()).toEqual(anthropicUsage);
        expect(meter.sawTerminal()).toBe(true);
        expect(meter.streamedText()).toBe(DEFAULT_TEXT);
      }),
      { numRuns: 100 },
    );
  });

  it('takes the last cumulative output_tokens, never a sum', () => {
    const stream = [
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":1}}}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm "}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":1}"}}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":10}}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":25}}',
      'event: message_stop\ndata: {"type":"message_stop"}',
    ].join('\n\n') + '\n\n';
    const { meter, out } = meterStream(messagesDialect, [Buffer.from(stream)]);
    expect(out.toString()).toBe(stream);
    expect(meter.usage()).toEqual({ vendor: 'anthropic', inputTokens: 10, cachedInputTokens: 2, cacheWriteTokens: 0, outputTokens: 25, reasoningTokens: 0 });
    expect(meter.streamedText()).toBe('hmm {"a":1}');
  });

  it('takes the 1-hour cache writes from a message_delta that reports them', () => {
    const stream = [
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"output_tokens":1}}}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":5,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}}',
      'event: message_stop\ndata: {"type":"message_stop"}',
    ].join('\n\n') + '\n\n';
    const { meter } = meterStream(messagesDialect, [Buffer.from(stream)]);
    expect(meter.usage()).toMatchObject({ cacheWriteTokens: 300, cacheWrite1hTokens: 200, outputTokens: 5 });
  });

  it('reads usage from a non-streaming body, compressed upstream or not', async () => {
    for (const behavior of ['', 'gzip', 'br']) {
      const raw = await fixture('/v1/messages', { ...request, stream: false }, { ...headers, 'x-fake-behavior': behavior });
      expect(messagesDialect.usageFromBody(JSON.parse(raw.toString()))).toEqual(anthropicUsage);
    }
  });

  it('validates in the Anthropic error shape, without demanding more than the API', () => {
    for (const [body, param] of [
      [{ messages: [], max_tokens: 1 }, 'model'],
      [{ model: 'c', max_tokens: 1 }, 'messages'],
      [{ model: 'c', messages: [], max_tokens: -5 }, 'max_tokens'],
      [{ model: 'c', messages: [], stream: 'yes' }, 'stream'],
    ] as const) {
      const validation = messagesDialect.validate(body);
      expect(validation.ok ? null : validation.param).toBe(param);
      if (validation.ok) continue;
      expect(messagesDialect.errorBody('invalid_request', validation.message)).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: validation.message },
      });
    }
    const valid = messagesDialect.validate({ ...request, system: [{ type: 'text', text: 'You are Claude Code.' }] });
    expect(valid).toMatchObject({ ok: true, request: { stream: true, maxOutputTokens: 64000 } });
    expect(valid.ok && valid.request.promptText).toBe('You are Claude Code.\nhi');
  });

  it('maps every gateway error kind to an Anthropic error type', () => {
    const types = (
      ['invalid_request', 'authentication', 'permission', 'not_found', 'conflict', 'too_large', 'usage_limit', 'upstream_unavailable', 'ledger_busy', 'upstream_timeout', 'ledger_full', 'internal'] as const
    ).map((kind) => (messagesDialect.errorBody(kind, 'm') as { error: { type: string } }).error.type);
    expect(types).toEqual([
      'invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'invalid_request_error', 'request_too_large',
      'rate_limit_error', 'api_error', 'overloaded_error', 'api_error', 'api_error', 'api_error',
    ]);
  });

  it('answers the ledger kinds in the OpenAI shape with a code of their own, at their own status', () => {
    for (const [kind, code, status] of [['conflict', 'conflict', 409], ['ledger_busy', 'ledger_busy', 503], ['ledger_full', 'ledger_full', 507]] as const) {
      expect(chatCompletionsDialect.errorBody(kind, 'm')).toEqual({ error: { message: 'm', type: kind === 'conflict' ? 'invalid_request_error' : 'server_error', param: null, code } });
      expect(HTTP_STATUS[kind]).toBe(status);
    }
  });
});

describe('blocked (429) bodies', () => {
  const details = { planType: 'plus', resetsAt: 1_800_000_000 };

  it.each([
    ['responses', responsesDialect],
    ['chat', chatCompletionsDialect],
    ['completions', completionsDialect],
    ['embeddings', embeddingsDialect],
    ['images', imagesDialect],
    ['speech', speechDialect],
    ['transcriptions', transcriptionsDialect],
    ['moderations', moderationsDialect],
  ])('are exactly the contract on the OpenAI route %s', (_name, dialect) => {
    const body = dialect.errorBody('usage_limit', '', details) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'plan_type', 'resets_at', 'state', 'type']);
    expect(body.error).toMatchObject({ type: 'usage_limit_reached', code: 'usage_limit_reached', plan_type: 'plus', resets_at: 1_800_000_000, state: 'blocked' });
    expect(body.error.message).toContain('Add credits');
    expect(body.error.message).toContain('creditgate credits add');
    expect(body.error.message).toContain('Creditgate: Add Credits…');
    expect(body.error.message).toContain('2027-01-15T08:00:00Z');
  });

  it('name the plan for Codex so that it shows no ChatGPT upsell, and keep the name for everyone else', () => {
    const forCodex = responsesDialect.errorBody('usage_limit', '', { ...details, codexClient: true }) as { error: Record<string, unknown> };
    expect(forCodex.error.plan_type).toBe('creditgate-plus');
    const custom = responsesDialect.errorBody('usage_limit', '', { planType: 'team-gold', resetsAt: null, codexClient: true }) as { error: Record<string, unknown> };
    expect(custom.error.plan_type).toBe('team-gold');
  });

  it('carry resets_at null when no reset would unblock, and the gateway message when it gives one', () => {
    const body = responsesDialect.errorBody('usage_limit', 'Custom: Add credits now.', { planType: 'free', resetsAt: null }) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ resets_at: null, plan_type: 'free', message: 'Custom: Add credits now.' });
  });

  it('are a rate_limit_error on /v1/messages', () => {
    const body = messagesDialect.errorBody('usage_limit', '', details) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(Object.keys(body.error).sort()).toEqual(['message', 'type']);
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toContain('Add credits');
  });
});
