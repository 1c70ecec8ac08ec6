/**
 * Through the gateway, request by request: the upstream sees the real key, each dialect's usage is
 * metered to the exact credits of docs/product.md §6, streams pass through with only the sanctioned rewrites,
 * and the contract headers and codex.rate_limits event tell the account's state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { rawRequest } from './fake-upstream';
import { codexRateLimitsEvent, eventually, sseEvents, startTestGateway, UPSTREAM_ANTHROPIC_KEY, UPSTREAM_OPENAI_KEY, type TestGateway } from './helpers/testGateway';
import { costOf } from '../proxy/pricing/cost';
import { defaultRateCard } from '../proxy/pricing/defaultRateCard';
import type { VendorDefaults } from '../shared/rateCard';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ plan: 'pro' });
});
afterAll(async () => gw.close());

const json = (value: unknown): string => JSON.stringify(value);
// gpt-5: 31.25 / 3.125 / 250 credits per 1M → (1000−200)×31.25 + 200×3.125 + 300×250 = 100,625 µcr.
const OPENAI_USAGE = { input_tokens: 1000, cached_tokens: 200, output_tokens: 300, reasoning_tokens: 100 };
const OPENAI_COST = 0.100625;
// claude-sonnet-4: 75 / 7.5 read / 93.75 write / 375 → 100×75 + 2000×7.5 + 1000×93.75 + 500×375 = 303,750 µcr.
const ANTHROPIC_USAGE = { input_tokens: 100, cache_read_input_tokens: 2000, cache_creation_input_tokens: 1000, output_tokens: 500 };
const ANTHROPIC_COST = 0.30375;

function lastRow() {
  const rows = gw.ledger.usageRows({});
  return rows.reduce((a, b) => (b.id > a.id ? b : a));
}

describe('metering through the gateway', () => {
  it('swaps the gateway token for the upstream key on both upstreams', async () => {
    gw.upstream.requests.length = 0;
    await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json' },
      body: json({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await rawRequest(`${gw.url}/v1/messages`, {
      headers: { 'x-api-key': gw.token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 64000, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const [openai, anthropic] = gw.upstream.requests;
    expect(openai!.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
    expect(anthropic!.headers['x-api-key']).toBe(UPSTREAM_ANTHROPIC_KEY);
    expect(anthropic!.headers.authorization).toBeUndefined();
    for (const request of gw.upstream.requests) expect(JSON.stringify(request.headers)).not.toContain(gw.token);
  });

  it('meters a non-streaming Chat Completion to the exact credits', async () => {
    const before = gw.ledger.status();
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).usage.prompt_tokens).toBe(1000);
    const row = lastRow();
    expect(row).toMatchObject({ model: 'gpt-5', client: 'test-client', route: '/v1/chat/completions', inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300, reasoningTokens: 100, cost: OPENAI_COST, estimated: false });
    const after = gw.ledger.status();
    expect(after.windows[0]!.used).toBeCloseTo(before.windows[0]!.used + OPENAI_COST, 6);
    expect(res.headers['x-creditgate-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-creditgate-state']).toBe('plan');
  });

  it('adds include_usage to a Chat stream, meters it, and hides the extra usage chunk', async () => {
    gw.upstream.requests.length = 0;
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(JSON.parse(gw.upstream.requests[0]!.body).stream_options).toEqual({ include_usage: true });
    const events = sseEvents(res.body.toString());
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(events.some((e) => typeof e.data === 'object' && e.data !== null && 'usage' in e.data && (e.data).usage)).toBe(false);
    expect(lastRow()).toMatchObject({ cost: OPENAI_COST, estimated: false });
  });

  it('keeps the usage chunk for a client that asked for it', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const usageChunk = sseEvents(res.body.toString()).find((e) => (e.data as { usage?: unknown })?.usage);
    expect((usageChunk!.data as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(300);
    expect(lastRow().cost).toBe(OPENAI_COST);
  });

  it('meters an Anthropic Messages stream with cache reads and writes (cumulative output)', async () => {
    const res = await rawRequest(`${gw.url}/v1/messages?beta=true`, {
      headers: { 'x-api-key': gw.token, 'content-type': 'application/json', 'x-fake-usage': json(ANTHROPIC_USAGE) },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 64000, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(sseEvents(res.body.toString()).at(-1)!.event).toBe('message_stop');
    expect(lastRow()).toMatchObject({ model: 'claude-sonnet-4-5', inputTokens: 100, cachedInputTokens: 2000, cacheWriteTokens: 1000, outputTokens: 500, cost: ANTHROPIC_COST });
  });

  it('sends the contract headers and, to Codex, a settled codex.rate_limits event before response.completed', async () => {
    const res = await rawRequest(`${gw.url}/v1/responses`, {
      headers: { ...gw.auth, 'content-type': 'application/json', originator: 'codex_exec', 'x-fake-usage': json(OPENAI_USAGE), 'x-fake-behavior': 'codex-headers' },
      body: json({ model: 'gpt-5-codex', stream: true, input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] }),
    });
    expect(res.headers['x-codex-primary-window-minutes']).toBe('300');
    expect(res.headers['x-codex-secondary-window-minutes']).toBe('10080');
    expect(Number(res.headers['x-codex-primary-reset-at'])).toBeGreaterThan(Date.now() / 1000);
    expect(res.headers['x-codex-credits-has-credits']).toBeDefined();
    // The fake upstream sent its own x-codex-* headers (used 99%); the gateway's replace them.
    expect(res.headers['x-codex-primary-used-percent']).not.toBe('99');
    const event = codexRateLimitsEvent(res.body.toString());
    expect(event.plan_type).toBe('pro');
    // Settled: the event's used percent includes this very request.
    const status = gw.ledger.status();
    expect(event.rate_limits.primary.used_percent).toBeCloseTo(status.windows[0]!.usedPercent, 1);
    expect(event.rate_limits.primary.window_minutes).toBe(300);
  });

  it('does not inject codex.rate_limits for non-Codex clients and passes events byte for byte', async () => {
    const direct = await rawRequest(`${gw.upstream.url}/v1/responses`, {
      headers: { 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', stream: true, input: 'hi' }),
    });
    const through = await rawRequest(`${gw.url}/v1/responses`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', stream: true, input: 'hi' }),
    });
    // Response ids differ per turn; everything else is the same bytes.
    const normalise = (body: Buffer): string => body.toString().replace(/resp_[A-Za-z0-9_]+|msg_[A-Za-z0-9_]+|"created_at":\d+/g, 'X');
    expect(normalise(through.body)).toBe(normalise(direct.body));
  });

  it('bills usage from response.incomplete and response.failed too', async () => {
    for (const terminal of ['incomplete', 'failed']) {
      await rawRequest(`${gw.url}/v1/responses`, {
        headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE), 'x-fake-behavior': `terminal=${terminal}` },
        body: json({ model: 'gpt-5', stream: true, input: 'hi' }),
      });
      expect(lastRow()).toMatchObject({ cost: OPENAI_COST, estimated: false });
    }
  });

  it('meters gzip-compressed bodies, streamed or not', async () => {
    const plain = await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE), 'x-fake-behavior': 'gzip' },
      body: json({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(plain.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(zlib.gunzipSync(plain.body).toString()).object).toBe('chat.completion');
    expect(lastRow()).toMatchObject({ cost: OPENAI_COST, estimated: false });

    const stream = await rawRequest(`${gw.url}/v1/messages`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(ANTHROPIC_USAGE), 'x-fake-behavior': 'br' },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(stream.status).toBe(200);
    expect(lastRow()).toMatchObject({ cost: ANTHROPIC_COST, estimated: false });
  });

  it('meters other /v1/* calls that report usage and forwards the rest', async () => {
    // Embeddings are not a feature of the plan: they run on credits.
    gw.ledger.addCredits({ amount: 5_000_000, idempotencyKey: 'embeddings', source: 'promo' });
    const embeddings = await rawRequest(`${gw.url}/v1/embeddings`, {
      headers: { ...gw.auth, 'content-type': 'application/json' },
      body: json({ model: 'text-embedding-3-small', input: 'hello world' }),
    });
    expect(embeddings.status).toBe(200);
    expect(embeddings.headers['x-creditgate-state']).toBe('credits');
    expect(lastRow()).toMatchObject({ model: 'text-embedding-3-small', feature: 'embeddings', route: '/v1/embeddings', planCost: 0 });
    expect(lastRow().creditCost).toBeGreaterThan(0);
    const models = await rawRequest(`${gw.url}/v1/models`, { method: 'GET', headers: gw.auth });
    expect(models.status).toBe(200);
    expect(gw.upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_OPENAI_KEY}`);
  });

  it('pushes status changes to /creditgate/v1/events subscribers', async () => {
    const seen: number[] = [];
    const controller = new AbortController();
    const response = await fetch(`${gw.url}/creditgate/v1/events`, { headers: gw.auth, signal: controller.signal });
    const reader = response.body!.getReader();
    const reading = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        for (const event of sseEvents(decoder.decode(value))) seen.push((event.data as { windows: { used: number }[] }).windows[0]!.used);
      }
    })();
    await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(1));
    const started = Date.now();
    await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const usedNow = gw.ledger.status().windows[0]!.used;
    await eventually(() => expect(seen.at(-1)).toBeCloseTo(usedNow, 6), 250);
    expect(Date.now() - started).toBeLessThan(1_000);
    controller.abort();
    await reading;
  });
});

describe('models the shipped card does not list', () => {
  const card = defaultRateCard();
  const fallback = card.default as VendorDefaults;

  it("meters an unknown OpenAI model at the dearest OpenAI price and flags its row unpriced", async () => {
    const res = await rawRequest(`${gw.url}/v1/responses`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-usage': json(OPENAI_USAGE) },
      body: json({ model: 'gpt-7-nova', input: 'hi' }),
    });
    expect(res.status).toBe(200);
    const usage = { vendor: 'openai', inputTokens: 1000, cachedInputTokens: 200, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 100 } as const;
    expect(lastRow()).toMatchObject({ model: 'gpt-7-nova', unpriced: true, cost: costOf(fallback.openai!, usage) / 1_000_000 });
    expect(gw.ledger.status().unpricedModels).toContain('gpt-7-nova');
  });

  it('meters an unknown model sent to the Anthropic API at the dearest Anthropic price, 1-hour cache writes included', async () => {
    const res = await rawRequest(`${gw.url}/v1/messages`, {
      headers: { 'x-api-key': gw.token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-fake-usage': json({ ...ANTHROPIC_USAGE, cache_creation_1h_input_tokens: 400 }) },
      body: json({ model: 'claude-epic-9', max_tokens: 64000, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const usage = { vendor: 'anthropic', inputTokens: 100, cachedInputTokens: 2000, cacheWriteTokens: 1000, cacheWrite1hTokens: 400, outputTokens: 500, reasoningTokens: 0 } as const;
    expect(lastRow()).toMatchObject({ model: 'claude-epic-9', unpriced: true, cost: costOf(fallback.anthropic!, usage) / 1_000_000 });
  });

  it("meters Codex's and Claude Code's default models at their own listed prices", async () => {
    for (const [path, model] of [['/v1/responses', 'gpt-6.1-sol'], ['/v1/messages', 'claude-opus-4-8']] as const) {
      const anthropic = path === '/v1/messages';
      const res = await rawRequest(`${gw.url}${path}`, {
        headers: anthropic ? { 'x-api-key': gw.token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' } : { ...gw.auth, 'content-type': 'application/json' },
        body: json(anthropic ? { model, max_tokens: 64000, messages: [{ role: 'user', content: 'hi' }] } : { model, input: 'hi' }),
      });
      expect(res.status).toBe(200);
      expect(lastRow()).toMatchObject({ model, unpriced: false });
    }
  });

  it('still refuses an unknown model with a 400 when a card says "default": null', async () => {
    const strict = await startTestGateway({ plan: 'pro', rateCard: { ...card, default: null } });
    try {
      const res = await rawRequest(`${strict.url}/v1/responses`, {
        headers: { ...strict.auth, 'content-type': 'application/json' },
        body: json({ model: 'gpt-7-nova', input: 'hi' }),
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).error.message).toContain('Model "gpt-7-nova" is not on Creditgate\'s rate card');
      expect(strict.upstream.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});
