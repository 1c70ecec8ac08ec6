/**
 * What real clients see when something is wrong, tried with the real SDKs: a usage-limit 429 is shown
 * at once (no retries), an upstream that refuses the upstream key says so (not "bad token"), and a
 * client's Connection header never reaches the upstream.
 */
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/testGateway';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ plan: 'free' });
});
afterAll(async () => {
  await gw.close();
});

/** A fetch that counts the attempts an SDK makes. */
function countingFetch(): { fetch: typeof fetch; calls: () => number } {
  let calls = 0;
  return {
    fetch: (input, init) => {
      calls++;
      return fetch(input, init);
    },
    calls: () => calls,
  };
}

describe('usage-limit 429', () => {
  it('is not retried by the OpenAI SDK', async () => {
    const counting = countingFetch();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, fetch: counting.fetch });
    const error = await client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-should-retry')).toBe('false');
    expect(counting.calls()).toBe(1);
  });

  it('is not retried by the Anthropic SDK', async () => {
    const counting = countingFetch();
    const client = new Anthropic({ baseURL: gw.url, apiKey: gw.token, fetch: counting.fetch });
    const error = await client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(counting.calls()).toBe(1);
  });
});

describe('an upstream that rejects the upstream key', () => {
  it('gets a 403 naming the upstream key and how to set it, on the OpenAI routes', async () => {
    gw.ledger.addCredits({ amount: 10_000_000, idempotencyKey: 'key-test-1', source: 'purchase' });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-behavior': 'status=401' },
      body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('upstream_key_rejected');
    expect(body.error.message).toMatch(/OpenAI upstream rejected Creditgate's upstream API key/);
    expect(body.error.message).toMatch(/Your Creditgate token is fine/);
    expect(body.error.message).toMatch(/OPENAI_API_KEY/);
    expect(gw.ledger.status().credits.held).toBe(0);
  });

  it('and on the Anthropic route, in its shape', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': gw.token, 'content-type': 'application/json', 'x-fake-behavior': 'status=401' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(body.error.message).toMatch(/ANTHROPIC_API_KEY/);
  });
});

describe('hop-by-hop headers', () => {
  function post(headers: Record<string, string>, agent: http.Agent | false): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${gw.url}/v1/chat/completions`,
        { method: 'POST', agent, headers: { ...gw.auth, 'content-type': 'application/json', ...headers } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }));
    });
  }

  it('a client sending Connection: close, then another request, gets two 200s', async () => {
    gw.ledger.addCredits({ amount: 10_000_000, idempotencyKey: 'hop-test', source: 'purchase' });
    const before = gw.upstream.requests.length;
    expect(await post({ connection: 'close, x-secret-hop', 'x-secret-hop': '1', te: 'trailers', 'keep-alive': 'timeout=5' }, false)).toBe(200);
    expect(await post({}, new http.Agent({ keepAlive: true }))).toBe(200);
    const forwarded = gw.upstream.requests.slice(before);
    expect(forwarded).toHaveLength(2);
    for (const name of ['x-secret-hop', 'te', 'keep-alive']) expect(forwarded[0]!.headers[name]).toBeUndefined();
    expect(forwarded[0]!.headers.connection).not.toMatch(/close/i);
  });
});
