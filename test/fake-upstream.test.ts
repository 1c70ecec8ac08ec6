import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { DEFAULT_TEXT, rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterEach(() => upstream.setBehavior(null));
afterAll(() => upstream.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(upstream.url + path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

/** Event names (or Chat data payloads) in order. */
function eventNames(body: Buffer): string[] {
  return body
    .toString('utf8')
    .split('\n\n')
    .filter(Boolean)
    .map((block) => /^event: (.*)$/m.exec(block)?.[1] ?? block.slice('data: '.length, 'data: '.length + 6));
}

describe('fake upstream', () => {
  it('records every request with its headers and body', async () => {
    const before = upstream.requests.length;
    await post('/v1/responses', { model: 'm', input: 'x' }, { authorization: 'Bearer sk-upstream', 'x-api-key': 'k' });
    const recorded = upstream.requests[before]!;
    expect(recorded).toMatchObject({ method: 'POST', url: '/v1/responses', body: '{"model":"m","input":"x"}' });
    expect(recorded.headers.authorization).toBe('Bearer sk-upstream');
    expect(recorded.headers['x-api-key']).toBe('k');
  });

  it("answers Claude Code's HEAD / probe and lists models", async () => {
    expect((await rawRequest(`${upstream.url}/`, { method: 'HEAD' })).status).toBe(200);
    const models = await rawRequest(`${upstream.url}/v1/models`, { method: 'GET' });
    expect(JSON.parse(models.body.toString()).data[0]).toMatchObject({ id: 'gpt-5-codex', object: 'model' });
  });

  it('streams the Responses event sequence Codex CLI needs', async () => {
    const res = await post('/v1/responses', { model: 'gpt-5-codex', input: 'hi', stream: true }, { 'x-fake-behavior': 'deltas=3' });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(eventNames(res.body)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const blocks = res.body.toString().split('\n\n');
    const itemDone = JSON.parse(blocks[9]!.split('data: ')[1]!);
    expect(itemDone.item).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: DEFAULT_TEXT }] });
    const completed = JSON.parse(blocks[10]!.split('data: ')[1]!);
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true }));
    expect(completed.response.usage).toEqual({
      input_tokens: Math.ceil(bodyBytes / 4),
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: Math.ceil(bodyBytes / 4) + 3,
    });
  });

  it('sends the Chat usage chunk only when include_usage was asked for', async () => {
    const body = { model: 'gpt-4o-mini', messages: [], stream: true };
    const without = (await post('/v1/chat/completions', body)).body.toString();
    expect(without).not.toContain('usage');
    expect(without.endsWith('data: [DONE]\n\n')).toBe(true);
    const withUsage = (await post('/v1/chat/completions', { ...body, stream_options: { include_usage: true } })).body.toString();
    const chunks = withUsage.split('\n\n').filter(Boolean);
    expect(chunks.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(chunks.at(-2)!.slice(6))).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { completion_tokens: 8 } });
  });

  it('streams Anthropic events with cumulative output_tokens in message_delta', async () => {
    const res = await post('/v1/messages?beta=true', { model: 'claude', max_tokens: 10, messages: [], stream: true }, {
      'x-fake-usage': '{"input_tokens":5,"output_tokens":42}',
      'x-fake-behavior': 'deltas=2',
    });
    expect(eventNames(res.body)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(res.body.toString()).toContain('"usage":{"output_tokens":42}');
  });

  it('overrides the answer text with x-fake-text (percent-encoded UTF-8 allowed), never altering it', async () => {
    const res = await post('/v1/chat/completions', { model: 'm', messages: [] }, { 'x-fake-text': encodeURIComponent('héllo ☕') });
    const body = JSON.parse(res.body.toString());
    expect(body.choices[0].message.content).toBe('héllo ☕');
    expect(body.usage.completion_tokens).toBe(7); // one delta per code point at most
    const many = await post('/v1/responses', { model: 'm', input: 'x', stream: true }, { 'x-fake-behavior': 'deltas=200' });
    expect(eventNames(many.body).filter((name) => name === 'response.output_text.delta')).toHaveLength(200);
  });

  it('answers a status with the vendor error body', async () => {
    const openai = await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'status=429' });
    expect(openai.status).toBe(429);
    expect(JSON.parse(openai.body.toString())).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded', param: null } });
    const anthropic = await post('/v1/messages', { model: 'c', messages: [] }, { 'x-fake-behavior': 'status=529' });
    expect(JSON.parse(anthropic.body.toString())).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('compresses bodies and streams with gzip or br even when not asked', async () => {
    const gz = await post('/v1/chat/completions', { model: 'm', messages: [] }, { 'x-fake-behavior': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(gz.body).toString()).usage.completion_tokens).toBe(8);
    const br = await post('/v1/messages', { model: 'c', messages: [], stream: true }, { 'x-fake-behavior': 'br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toContain('event: message_stop');
  });

  it('cuts a stream after N events, resets before any byte, and omits usage', async () => {
    const cut = await post('/v1/messages', { model: 'c', messages: [], stream: true }, { 'x-fake-behavior': 'cut=3' });
    expect(cut.complete).toBe(false);
    expect(eventNames(cut.body)).toEqual(['message_start', 'content_block_start', 'ping']);
    await expect(post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'reset' })).rejects.toThrow(/socket hang up|ECONNRESET/);
    const noUsage = await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'no-usage' });
    expect(JSON.parse(noUsage.body.toString()).usage).toBeNull();
  });

  it('ends Responses streams with response.incomplete or response.failed on request', async () => {
    for (const terminal of ['incomplete', 'failed']) {
      const res = await post('/v1/responses', { model: 'm', input: 'x', stream: true }, { 'x-fake-behavior': `terminal=${terminal}` });
      expect(eventNames(res.body).at(-1)).toBe(`response.${terminal}`);
    }
  });

  it('delays the first byte, paces events, and hangs, globally via setBehavior', async () => {
    upstream.setBehavior({ firstByteDelayMs: 150, eventIntervalMs: 20, deltas: 3 });
    const started = Date.now();
    const res = await post('/v1/messages', { model: 'c', messages: [], stream: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150 + 20 * 7 - 10);
    expect(eventNames(res.body).filter((name) => name === 'content_block_delta')).toHaveLength(3);

    upstream.setBehavior({ hang: true });
    await expect(rawRequest(`${upstream.url}/v1/responses`, { body: '{}', timeoutMs: 200 })).rejects.toThrow('timeout');
    // the per-request header wins over the global switch
    expect((await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': '{"hang":false}' })).status).toBe(200);
  });

  it('sends upstream x-codex-* headers on request, for the gateway to replace', async () => {
    const res = await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'codex-headers' });
    expect(res.headers['x-codex-primary-used-percent']).toBe('99');
  });

  it('pads a non-streaming answer to exactly bytes=N, usage still after the text, and cuts it halfway', async () => {
    const bytes = 300_001; // several 64 KiB chunks and a ragged end
    const res = await post('/v1/chat/completions', { model: 'gpt-5', messages: [] }, { 'x-fake-behavior': `bytes=${bytes}` });
    expect(res.body.length).toBe(bytes);
    expect(res.headers['content-length']).toBe(String(bytes));
    expect(res.body.indexOf('"usage"')).toBeGreaterThan(bytes - 1_000);
    const body = JSON.parse(res.body.toString('utf8'));
    expect(body.choices[0].message.content.startsWith(`${DEFAULT_TEXT}\n${DEFAULT_TEXT}\n`)).toBe(true);
    expect(body.usage.completion_tokens).toBe(8);

    const anthropic = await post('/v1/messages', { model: 'c', messages: [] }, { 'x-fake-behavior': 'bytes=100000' });
    expect(JSON.parse(anthropic.body.toString()).content[0].text.length).toBeGreaterThan(50_000);
    const cut = await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'bytes=200000,cut=1' });
    expect(cut.complete).toBe(false);
    expect(cut.body.length).toBe(100_000);
    const streamed = await post('/v1/chat/completions', { model: 'm', messages: [], stream: true }, { 'x-fake-behavior': 'bytes=1000' });
    expect(streamed.status).toBe(400);
  });

  it('refuses an unknown behavior switch loudly', async () => {
    const res = await post('/v1/responses', { model: 'm', input: 'x' }, { 'x-fake-behavior': 'slowly' });
    expect(res.status).toBe(400);
  });
});
