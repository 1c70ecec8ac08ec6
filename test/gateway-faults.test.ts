/**
 * Bad input and broken upstreams (docs/product.md §2 Errors, §6 Validation): clear errors in each API's own
 * shape, holds voided or settled exactly once, and the gateway keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import fc from 'fast-check';
import { rawRequest } from './fake-upstream';
import { eventually, startTestGateway, TEST_INSTANCE_ID, type TestGateway } from './helpers/testGateway';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ plan: 'pro', maxBodyBytes: 64 * 1024, upstreamTimeoutMs: 400 });
});
afterAll(async () => gw.close());

const json = (value: unknown): string => JSON.stringify(value);
const chatBody = json({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const rowCount = (): number => gw.ledger.usageRows({}).length;
const held = (): number => gw.ledger.status().credits.held + gw.ledger.status().windows.reduce((s, w) => s + w.held, 0);

async function healthy(): Promise<void> {
  const res = await rawRequest(`${gw.url}/healthz`, { method: 'GET' });
  expect(res.status).toBe(200);
}

describe('front door', () => {
  it('requires a token: 401 in each route shape', async () => {
    const none = await rawRequest(`${gw.url}/v1/responses`, { body: '{}' });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body.toString()).error.message).toMatch(/token/i);
    const wrong = await rawRequest(`${gw.url}/v1/messages`, { headers: { 'x-api-key': 'cg_wrong' }, body: '{}' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body.toString())).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const own = await rawRequest(`${gw.url}/creditgate/v1/status`, { method: 'GET' });
    expect(own.status).toBe(401);
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('refuses foreign Host headers (DNS rebinding) and CORS preflights', async () => {
    const rebinding = await rawRequest(`${gw.url}/creditgate/v1/status`, { method: 'GET', headers: { ...gw.auth, host: 'evil.example:8788' } });
    expect(rebinding.status).toBe(403);
    for (const host of ['localhost:1', '127.0.0.1', '[::1]:8788']) {
      expect((await rawRequest(`${gw.url}/creditgate/v1/status`, { method: 'GET', headers: { ...gw.auth, host } })).status).toBe(200);
    }
    const preflight = await rawRequest(`${gw.url}/v1/responses`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers /healthz and HEAD / without a token (Claude Code probes it)', async () => {
    expect((await rawRequest(`${gw.url}/`, { method: 'HEAD' })).status).toBe(200);
    const health = JSON.parse((await rawRequest(`${gw.url}/healthz`, { method: 'GET' })).body.toString());
    expect(health).toEqual({ ok: true, app: 'creditgate', instance: TEST_INSTANCE_ID });
  });
});

describe('bad input', () => {
  // Unknown models are priced by the shipped card's default; a card without one refuses them
  // (gateway-metering.test.ts, red-team/roles.test.ts).
  it('answers malformed JSON and wrong types with 400 without forwarding', async () => {
    const before = gw.upstream.requests.length;
    const cases: [string, string, RegExp][] = [
      ['/v1/chat/completions', '{"model": "gpt-5", "messages": [', /JSON/],
      ['/v1/chat/completions', json({ model: 42, messages: [] }), /model/],
      ['/v1/chat/completions', json({ model: 'gpt-5', messages: [], stream: 'yes' }), /stream/],
      ['/v1/chat/completions', json({ model: 'gpt-5', messages: [], max_tokens: -1 }), /max_tokens/],
      ['/v1/responses', json({ model: 'gpt-5' }), /input/],
    ];
    for (const [path, body, message] of cases) {
      const res = await rawRequest(`${gw.url}${path}`, { headers: { ...gw.auth, 'content-type': 'application/json' }, body });
      expect(res.status, `${path} ${body}`).toBe(400);
      const error = JSON.parse(res.body.toString()).error;
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toMatch(message);
    }
    const anthropic = await rawRequest(`${gw.url}/v1/messages`, { headers: gw.auth, body: json({ model: 'claude-sonnet-4-5', max_tokens: 'lots', messages: [] }) });
    expect(anthropic.status).toBe(400);
    expect(JSON.parse(anthropic.body.toString())).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(gw.upstream.requests.length).toBe(before);
  });

  it('refuses over-size bodies with 413, from Content-Length or while reading', async () => {
    const big = json({ model: 'gpt-5', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const declared = await rawRequest(`${gw.url}/v1/chat/completions`, { headers: gw.auth, body: big });
    expect(declared.status).toBe(413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...gw.auth, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(10 * 1024));
      req.end();
    });
    expect(chunked).toBe(413);
    await healthy();
  });

  it('survives arbitrary bodies on every route', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/responses', '/v1/chat/completions', '/v1/messages', '/creditgate/v1/credits'), fc.oneof(fc.string(), fc.json()), async (path, body) => {
        // The own API's changes need the admin token; with the client's every body would get 403 unread.
        const auth = path.startsWith('/creditgate/') ? gw.adminAuth : gw.auth;
        const res = await rawRequest(`${gw.url}${path}`, { headers: { ...auth, 'content-type': 'application/json', 'x-fake-behavior': 'deltas=1' }, body });
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 60 },
    );
    await healthy();
  });
});

describe('broken upstreams', () => {
  it('502 and a voided hold when the upstream resets before any byte', async () => {
    const rows = rowCount();
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, { headers: { ...gw.auth, 'x-fake-behavior': 'reset' }, body: chatBody });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString()).error.message).toMatch(/upstream/i);
    expect(rowCount()).toBe(rows);
    expect(held()).toBe(0);
  });

  it('504 and a voided hold when the upstream says nothing in time', async () => {
    const rows = rowCount();
    const res = await rawRequest(`${gw.url}/v1/messages`, {
      headers: { ...gw.auth, 'x-fake-behavior': 'hang' },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body.toString())).toMatchObject({ type: 'error' });
    expect(rowCount()).toBe(rows);
    expect(held()).toBe(0);
  });

  it('passes an upstream error status through and charges nothing', async () => {
    const rows = rowCount();
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, { headers: { ...gw.auth, 'x-fake-behavior': 'status=500' }, body: chatBody });
    expect(res.status).toBe(500);
    expect(rowCount()).toBe(rows);
    expect(held()).toBe(0);
  });

  it('ends the client stream cleanly on a mid-stream cut and bills what was seen, estimated', async () => {
    const res = await rawRequest(`${gw.url}/v1/chat/completions`, {
      headers: { ...gw.auth, 'x-fake-behavior': 'deltas=12,cut=6', 'x-fake-text': 'one two three four five six seven eight nine ten eleven twelve' },
      body: chatBody,
    });
    expect(res.status).toBe(200);
    expect(res.complete).toBe(true);
    const row = gw.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'upstream_cut' });
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(row.outputTokens).toBeLessThan(12);
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(held()).toBe(0);
  });

  it('estimates a complete stream that carried no usage, flagged no_usage (not a cut)', async () => {
    const res = await rawRequest(`${gw.url}/v1/messages`, {
      headers: { ...gw.auth, 'x-fake-behavior': 'no-usage,deltas=4', 'x-fake-text': 'one two three four' },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'count' }] }),
    });
    expect(res.status).toBe(200);
    const row = gw.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'no_usage' });
    expect(row.outputTokens).toBeGreaterThanOrEqual(3);
    expect(held()).toBe(0);
  });

  it('bills a client that hangs up mid-stream from what was streamed, estimated', async () => {
    const rows = rowCount();
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        `${gw.url}/v1/responses`,
        { method: 'POST', headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-behavior': 'deltas=50,interval=20' } },
        (res) => {
          let seen = 0;
          res.on('data', () => {
            if (++seen === 5) {
              req.destroy();
              resolve();
            }
          });
        },
      );
      req.on('error', () => undefined);
      req.end(json({ model: 'gpt-5', stream: true, input: 'tell me a long story' }));
      setTimeout(() => reject(new Error('no data')), 5_000);
    });
    await eventually(() => expect(rowCount()).toBe(rows + 1));
    const row = gw.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'client_disconnect' });
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(row.outputTokens).toBeLessThan(50);
    expect(held()).toBe(0);
    await healthy();
  });
});
