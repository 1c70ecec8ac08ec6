/**
 * Red team: a limit, once reached, holds. Holds used to cover ~1,024 output tokens and nothing capped
 * a request beyond that: with 2.56 credits left, ten requests of 100k output tokens left the balance at
 * −247 credits, and a 0.3-credit plan window absorbed 50 credits of usage. Now a request admitted on the
 * last of the allowance or the credits has its output capped to what is left (forwarded as its own
 * output limit), a stream that runs past it anyway is ended cleanly, and a request whose input alone
 * costs more is refused. The bound: what was left plus the configured margin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRateCard } from '../../proxy/pricing/defaultRateCard';
import { creditsToMicro } from '../../shared/money';
import type { PlanDefinition } from '../../shared/plans';
import { eventually, sseEvents, startTestGateway, type TestGateway } from '../helpers/testGateway';

const MARGIN = 500_000; // the default margin, half a credit
const ASKED_OUTPUT = 100_000;

/** An OpenAI-compatible upstream that writes as many output tokens as the request allows (up to 100k). */
async function startHonestUpstream(options: { ignoreLimit?: boolean } = {}) {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      bodies.push(body);
      const limit = (body.max_completion_tokens ?? body.max_tokens ?? body.max_output_tokens) as number | undefined;
      const output = options.ignoreLimit || limit === undefined ? ASKED_OUTPUT : Math.min(ASKED_OUTPUT, limit);
      const usage = { prompt_tokens: 10, completion_tokens: output, total_tokens: 10 + output };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: '…' }, finish_reason: 'length' }], usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const chunk = (text: string) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] })}\n\n`;
      // ~50 tokens per event; the stream stops at the limit unless told to ignore it.
      const words = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ') + ' ';
      const pump = (): void => {
        while (sent < output && !res.destroyed) {
          sent += 50;
          if (!res.write(chunk(words))) return void res.once('drain', pump);
          if (sent % 5_000 === 0) return void setImmediate(pump);
        }
        if (res.destroyed) return;
        res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
      };
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    bodies,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

type Upstream = Awaited<ReturnType<typeof startHonestUpstream>>;

async function chat(gw: TestGateway, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...gw.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'write a lot' }], ...body }),
  });
  return { status: res.status, text: await res.text() };
}

/** The shipped card plus a model whose card entry gives its maximum output (128k tokens, $10/M output). */
const BIG_OUTPUT_CARD = (() => {
  const card = defaultRateCard();
  return {
    ...card,
    models: {
      ...card.models,
      'big-output-model': { feature: 'assistant', input: 50, output: 250, max_output_tokens: 128_000 },
      'no-max-model': { feature: 'assistant', input: 50, output: 250 },
    },
  };
})();

const TINY: Record<string, PlanDefinition> = { tiny: { windows: { '5h': 0.3, weekly: 100 }, features: ['assistant'] } };

let gw: TestGateway | null = null;
let upstream: Upstream | null = null;
afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = null;
  upstream = null;
});

describe('red team: overspend', () => {
  it('ten requests of 100k output tokens on 2.56 credits spend at most the credits plus the margin', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url });
    gw.ledger.addCredits({ amount: creditsToMicro(2.56)!, idempotencyKey: 'k', source: 'purchase' });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await chat(gw, i % 2 === 0 ? {} : { max_tokens: ASKED_OUTPUT })).status);
    expect(statuses[0]).toBe(200);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const status = gw.ledger.status();
    expect(status.credits.held).toBe(0);
    expect(status.credits.balance).toBeGreaterThanOrEqual(-MARGIN / 1e6);
    // The first request went upstream with its output capped to what 2.56 credits pay at $8/M output.
    const cap = upstream.bodies[0]!.max_completion_tokens as number;
    expect(cap).toBeGreaterThan(12_000);
    expect(cap).toBeLessThanOrEqual(12_800);
  });

  it('a 0.3-credit window with auto-use off takes at most 0.3 credits plus the margin, and credits are untouched', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'tiny', plans: TINY, autoUseCredits: false, openaiBaseUrl: upstream.url });
    gw.ledger.addCredits({ amount: creditsToMicro(50)!, idempotencyKey: 'k', source: 'purchase' });
    for (let i = 0; i < 5; i++) await chat(gw, { max_tokens: ASKED_OUTPUT });
    const status = gw.ledger.status();
    const fiveHours = status.windows.find((w) => w.name === '5h')!;
    expect(fiveHours.used).toBeLessThanOrEqual(0.3 + MARGIN / 1e6);
    expect(fiveHours.used).toBeGreaterThan(0.25);
    expect(status.credits.balance).toBe(50);
  });

  it('a 0.3-credit window with auto-use on and no credits cannot absorb more than it has', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'tiny', plans: TINY, openaiBaseUrl: upstream.url });
    for (let i = 0; i < 5; i++) await chat(gw, {});
    const fiveHours = gw.ledger.status().windows.find((w) => w.name === '5h')!;
    expect(fiveHours.used).toBeLessThanOrEqual(0.3 + MARGIN / 1e6);
  });

  it('ends a stream that runs past the limit with a clean final chunk, and bills no more than the bound', async () => {
    upstream = await startHonestUpstream({ ignoreLimit: true });
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url });
    gw.ledger.addCredits({ amount: creditsToMicro(1)!, idempotencyKey: 'k', source: 'purchase' });
    const answer = await chat(gw, { stream: true });
    expect(answer.status).toBe(200);
    const events = sseEvents(answer.text);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const last = events.at(-2)!.data as { choices: { finish_reason: string }[] };
    expect(last.choices[0]!.finish_reason).toBe('length');
    const gateway = gw;
    await eventually(() => expect(gateway.ledger.usageRows({ limit: 1 })[0]?.reason).toBe('spend_limit'));
    const row = gateway.ledger.usageRows({ limit: 1 })[0]!;
    expect(row.estimated).toBe(true);
    expect(row.cost).toBeLessThanOrEqual(1 + MARGIN / 1e6);
    expect(row.cost).toBeGreaterThan(0.9);
    expect(gateway.ledger.status().credits.held).toBe(0);
  });

  it('refuses a request whose input alone costs more than what is left, and keeps nothing held', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url });
    gw.ledger.addCredits({ amount: creditsToMicro(0.01)!, idempotencyKey: 'k', source: 'purchase' });
    const answer = await chat(gw, { messages: [{ role: 'user', content: 'lorem ipsum '.repeat(50_000) }] });
    expect(answer.status).toBe(429);
    const error = (JSON.parse(answer.text) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('usage_limit_reached');
    expect(error.message).toMatch(/input alone would cost/);
    expect(upstream.bodies).toHaveLength(0);
    expect(gw.ledger.status().credits).toMatchObject({ balance: 0.01, held: 0 });
  });

  it('lowers an Anthropic max_tokens of 64,000 to what the credits pay for', async () => {
    gw = await startTestGateway({ plan: 'free' });
    gw.ledger.addCredits({ amount: creditsToMicro(1)!, idempotencyKey: 'k', source: 'purchase' });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64_000, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const sent = JSON.parse(gw.upstream.requests.at(-1)!.body) as { max_tokens: number };
    // Sonnet output is $15/M = 375 credits/M: one credit pays for ~2,666 tokens.
    expect(sent.max_tokens).toBeLessThan(2_700);
    expect(sent.max_tokens).toBeGreaterThan(2_500);
  });

  it('caps a non-streaming request with no limit of its own past 16,384 tokens when the card knows the model’s maximum', async () => {
    // The account pays for ~50k output tokens, the model writes up to 128k: with no limit forwarded,
    // the upstream would write all 100k the honest upstream gives and cost twice what is left.
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url, rateCard: BIG_OUTPUT_CARD });
    gw.ledger.addCredits({ amount: creditsToMicro(12.5)!, idempotencyKey: 'k', source: 'purchase' });
    expect((await chat(gw, { model: 'big-output-model' })).status).toBe(200);
    const cap = upstream.bodies[0]!.max_completion_tokens as number;
    expect(cap).toBeGreaterThan(49_000);
    expect(cap).toBeLessThanOrEqual(50_000);
    const status = gw.ledger.status();
    expect(status.credits.balance).toBeGreaterThanOrEqual(-MARGIN / 1e6);
    expect(status.credits.held).toBe(0);
  });

  it('does not rely on the card’s maximum for a stream: it forwards no limit past 16,384 and ends the stream at the bound', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url, rateCard: BIG_OUTPUT_CARD });
    gw.ledger.addCredits({ amount: creditsToMicro(12.5)!, idempotencyKey: 'k', source: 'purchase' });
    const { status, text } = await chat(gw, { model: 'big-output-model', stream: true });
    expect(status).toBe(200);
    expect(upstream.bodies[0]!.max_completion_tokens).toBeUndefined();
    expect(text).toContain('"finish_reason":"length"');
    await eventually(() => expect(gw!.ledger.status().credits.held).toBe(0));
    expect(gw.ledger.status().credits.balance).toBeGreaterThanOrEqual(-MARGIN / 1e6);
  });

  it('bounds a non-streaming request the card cannot cap: it goes upstream as a stream, ended at the bound, and its client gets the assembled body', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url, rateCard: BIG_OUTPUT_CARD });
    gw.ledger.addCredits({ amount: creditsToMicro(12.5)!, idempotencyKey: 'k', source: 'purchase' });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...gw.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-max-model', messages: [{ role: 'user', content: 'write a lot' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { object: string; choices: { message: { role: string; content: string }; finish_reason: string }[] };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.choices[0]!.message.role).toBe('assistant');
    expect(body.choices[0]!.message.content).toMatch(/^word0 word1 /);
    // The upstream was asked for a stream with its usage, and no limit it might refuse.
    expect(upstream.bodies[0]).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(upstream.bodies[0]!.max_completion_tokens).toBeUndefined();
    await eventually(() => expect(gw!.ledger.status().credits.held).toBe(0));
    expect(gw.ledger.status().credits.balance).toBeGreaterThanOrEqual(-MARGIN / 1e6);
    expect(gw.ledger.status().credits.balance).toBeLessThan(12.5);
  });

  it.each([
    ['messages', '/v1/messages', {}],
    ['responses', '/v1/responses', {}],
    ['chat, gzip-compressed', '/v1/chat/completions', { 'x-fake-behavior': 'gzip' }],
  ] as const)('answers a %s request sent upstream as a stream with the body its API sends, billed from the stream', async (_name, route, extra) => {
    gw = await startTestGateway({ plan: 'free', rateCard: BIG_OUTPUT_CARD });
    gw.ledger.addCredits({ amount: creditsToMicro(12.5)!, idempotencyKey: 'k', source: 'purchase' });
    const request =
      route === '/v1/messages'
        ? { model: 'no-max-model', messages: [{ role: 'user', content: 'hi' }] }
        : route === '/v1/responses'
          ? { model: 'no-max-model', input: 'hi' }
          : { model: 'no-max-model', messages: [{ role: 'user', content: 'hi' }] };
    const headers = route === '/v1/messages' ? { 'x-api-key': gw.token, 'anthropic-version': '2023-06-01' } : gw.auth;
    const res = await fetch(`${gw.url}${route}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', ...extra }, body: JSON.stringify(request) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    const body = (await res.json()) as Record<string, unknown>;
    const sent = JSON.parse(gw.upstream.requests.at(-1)!.body) as Record<string, unknown>;
    expect(sent.stream).toBe(true);
    if (route === '/v1/messages') {
      expect(body).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
      expect((body.content as { type: string; text: string }[])[0]!.text).toContain('Hello from the fake upstream');
      expect(body.usage).toMatchObject({ output_tokens: expect.any(Number) });
    } else if (route === '/v1/responses') {
      expect(body).toMatchObject({ object: 'response', status: 'completed' });
      expect(JSON.stringify(body.output)).toContain('Hello from the fake upstream');
    } else {
      expect(body).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: expect.any(Number) } });
      expect((body.choices as { message: { content: string } }[])[0]!.message.content).toContain('Hello from the fake upstream');
    }
    await eventually(() => expect(gw!.ledger.status().credits.held).toBe(0));
    const spent = 12.5 - gw.ledger.status().credits.balance;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThan(0.1);
  });

  it('answers what arrived when the upstream breaks off such a stream, billed as cut, and an upstream error as the upstream sent it', async () => {
    gw = await startTestGateway({ plan: 'free', rateCard: BIG_OUTPUT_CARD });
    gw.ledger.addCredits({ amount: creditsToMicro(12.5)!, idempotencyKey: 'k', source: 'purchase' });
    const ask = (behavior: string) =>
      fetch(`${gw!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...gw!.auth, 'content-type': 'application/json', 'x-fake-behavior': behavior },
        body: JSON.stringify({ model: 'no-max-model', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const cut = await ask('deltas=6,cut=4');
    expect(cut.status).toBe(200);
    const body = (await cut.json()) as { choices: { message: { content: string }; finish_reason: unknown }[] };
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
    expect(body.choices[0]!.finish_reason).toBeNull();
    await eventually(() => expect(gw!.ledger.status().credits.held).toBe(0));
    const row = gw.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'upstream_cut' });
    expect(row.outputTokens).toBeGreaterThan(0);

    const refused = await ask('status=429');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBeTruthy();
  });

  it('leaves a request alone when the account can pay for all of it', async () => {
    upstream = await startHonestUpstream();
    gw = await startTestGateway({ plan: 'free', openaiBaseUrl: upstream.url });
    gw.ledger.addCredits({ amount: creditsToMicro(1_000)!, idempotencyKey: 'k', source: 'purchase' });
    await chat(gw, { max_tokens: 4_000 });
    await chat(gw, {});
    expect(upstream.bodies[0]!.max_tokens).toBe(4_000);
    expect(upstream.bodies[0]!.max_completion_tokens).toBeUndefined();
    expect(upstream.bodies[1]!.max_completion_tokens).toBeUndefined();
  });
});
