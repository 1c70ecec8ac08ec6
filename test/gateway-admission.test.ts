/**
 * The account's states through real requests (docs/product.md §1, §2, §6): plan → credits → blocked with the
 * contract 429 → a purchase admits the very next request; idempotent purchases; window reset; a
 * concurrent burst bounded by the credits; concurrent requests' writes grouped into shared commits.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../proxy/ledger/ledger';
import { defaultRateCard } from '../proxy/pricing';
import { rawRequest } from './fake-upstream';
import { walCommits } from './fixtures/walCommits';
import { startTestGateway, type TestGateway } from './helpers/testGateway';

let gw: TestGateway | null = null;
afterEach(async () => {
  await gw?.close();
  gw = null;
});

const json = (value: unknown): string => JSON.stringify(value);
// gpt-5 at (1000−0)×31.25 + 400×250 = 131,250 µcr = 0.13125 credits per request.
const USAGE = json({ input_tokens: 1000, output_tokens: 400 });
const COST = 0.13125;

function chat(g: TestGateway, extra: Record<string, string> = {}) {
  return rawRequest(`${g.url}/v1/chat/completions`, {
    headers: { ...g.auth, 'content-type': 'application/json', 'x-fake-usage': USAGE, ...extra },
    body: json({ model: 'gpt-5', max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function responses(g: TestGateway) {
  return rawRequest(`${g.url}/v1/responses`, {
    headers: { ...g.auth, 'content-type': 'application/json', 'x-fake-usage': USAGE },
    body: json({ model: 'gpt-5', max_output_tokens: 500, input: 'hi' }),
  });
}

/** The own API; changes (every method but GET) with the admin token, reads with the client's. */
async function api(g: TestGateway, method: string, path: string, body?: unknown) {
  const res = await rawRequest(`${g.url}/creditgate/v1/${path}`, {
    method,
    headers: { ...(method === 'GET' ? g.auth : g.adminAuth), 'content-type': 'application/json' },
    body: body === undefined ? undefined : json(body),
  });
  return { status: res.status, body: JSON.parse(res.body.toString()) };
}

describe('plan → credits → blocked → add credits', () => {
  it('walks through every state with the contract bodies and headers', async () => {
    gw = await startTestGateway({ plan: 'tiny', plans: { tiny: { windows: { '5h': 0.2, weekly: 10 }, features: ['assistant'] } } });

    // The first request opens the windows: used 0 % and reset-at = now + 5 h at admission.
    const first = await chat(gw);
    expect(first.status).toBe(200);
    expect(first.headers['x-creditgate-state']).toBe('plan');
    expect(first.headers['x-codex-primary-used-percent']).toBe('0');
    const resetAt = Number(first.headers['x-codex-primary-reset-at']);
    expect(Math.abs(resetAt - (Date.now() / 1000 + 300 * 60))).toBeLessThan(5);

    // Second request: 0.06875 left on the 5h window → still admitted on the plan; the excess of its
    // cost cannot go to credits (none), so the window records the overrun.
    expect((await chat(gw)).headers['x-creditgate-state']).toBe('plan');
    let status = (await api(gw, 'GET', 'status')).body;
    expect(status.windows[0].used).toBeCloseTo(2 * COST, 6);
    expect(status.state).toBe('blocked');

    // Blocked: the exact 429 Codex understands, with Retry-After until the 5h window resets.
    const blocked = await chat(gw);
    expect(blocked.status).toBe(429);
    const body = JSON.parse(blocked.body.toString());
    expect(body.error).toMatchObject({ type: 'usage_limit_reached', code: 'usage_limit_reached', plan_type: 'tiny', state: 'blocked' });
    expect(body.error.message).toContain('Add credits');
    expect(body.error.resets_at).toBe(resetAt);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(17_000);
    expect(blocked.headers['x-creditgate-state']).toBe('blocked');
    const upstreamCalls = gw.upstream.requests.length;
    expect(upstreamCalls).toBe(2);

    // The Anthropic route answers in its own shape.
    const anthropic = await rawRequest(`${gw.url}/v1/messages`, {
      headers: { ...gw.auth, 'content-type': 'application/json' },
      body: json({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anthropic.status).toBe(429);
    expect(JSON.parse(anthropic.body.toString())).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });

    // A purchase lifts the block at once; repeating it adds nothing.
    const bought = await api(gw, 'POST', 'credits', { amount: 1, idempotencyKey: 'order-1', source: 'purchase' });
    expect(bought.status).toBe(200);
    expect(bought.body.credits.balance).toBe(1);
    expect(bought.body.state).toBe('credits');
    const again = await api(gw, 'POST', 'credits', { amount: 1, idempotencyKey: 'order-1' });
    expect(again.body.credits.balance).toBe(1);

    const onCredits = await responses(gw);
    expect(onCredits.status).toBe(200);
    expect(onCredits.headers['x-creditgate-state']).toBe('credits');
    status = (await api(gw, 'GET', 'status')).body;
    expect(status.credits.balance).toBeCloseTo(1 - COST, 6);
    expect(status.windows[0].used).toBeCloseTo(2 * COST, 6);

    // Resetting the windows puts the account back on the plan; credits untouched.
    const reset = await api(gw, 'POST', 'windows/reset');
    expect(reset.body.state).toBe('plan');
    expect(reset.body.windows.every((w: { used: number; resetsAt: string | null }) => w.used === 0 && w.resetsAt === null)).toBe(true);
    expect(reset.body.credits.balance).toBeCloseTo(1 - COST, 6);
  });

  it('with auto-use off, blocks instead of spending credits', async () => {
    gw = await startTestGateway({ plan: 'tiny', autoUseCredits: false, plans: { tiny: { windows: { '5h': 0.1, weekly: 10 }, features: ['assistant'] } } });
    await api(gw, 'POST', 'credits', { amount: 5, idempotencyKey: 'k' });
    expect((await chat(gw)).status).toBe(200);
    const blocked = await chat(gw);
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body.toString()).error.message).toMatch(/automatic use of credits is off/);
    expect((await api(gw, 'GET', 'status')).body.credits.balance).toBe(5);
    const settings = await api(gw, 'POST', 'settings', { autoUseCredits: true });
    expect(settings.body.state).toBe('credits');
    expect((await chat(gw)).status).toBe(200);
  });

  it('admits no more of a 50-request burst than the credits cover', async () => {
    gw = await startTestGateway({ plan: 'enterprise' });
    // Ten requests' worth of credits; each request is estimated from its own max_tokens (500).
    await api(gw, 'POST', 'credits', { amount: 10 * COST, idempotencyKey: 'burst' });
    const results = await Promise.all(Array.from({ length: 50 }, () => chat(gw!)));
    const admitted = results.filter((r) => r.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(11);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 429)).toBe(true);
    const status = (await api(gw, 'GET', 'status')).body;
    const rows = gw.ledger.usageRows({});
    expect(rows).toHaveLength(admitted);
    const charged = rows.reduce((sum, row) => sum + row.creditCost, 0);
    expect(10 * COST - status.credits.balance).toBeCloseTo(charged, 6);
    expect(status.credits.balance).toBeGreaterThanOrEqual(-COST);
    expect(status.credits.held).toBe(0);
  });

  it('writes the holds and charges of concurrent requests in shared transactions, losing none', async () => {
    gw = await startTestGateway({ plan: 'enterprise' });
    await api(gw, 'POST', 'credits', { amount: 100, idempotencyKey: 'group' });
    const database = path.join(gw.dataDir, 'creditgate.db');
    // Another connection on the file, as the CLI would open it, checks the totals afterwards.
    const observer = Ledger.open({ path: database, rateCard: defaultRateCard() });
    try {
      const commitsBefore = walCommits(database);
      const results = await Promise.all(Array.from({ length: 40 }, () => chat(gw!)));
      expect(results.every((r) => r.status === 200)).toBe(true);
      // 40 admissions and 40 charges: 80 commits if each were written alone.
      expect(walCommits(database) - commitsBefore).toBeLessThan(80);
      expect(gw.ledger.usageRows({})).toHaveLength(40);
      const status = observer.status();
      expect(status.credits.held).toBe(0);
      expect(status.credits.balance).toBeCloseTo(100 - 40 * COST, 6);
    } finally {
      observer.close();
    }
  });

  it('refuses unknown plan names and bad purchase bodies with clear 400s', async () => {
    gw = await startTestGateway();
    const plan = await api(gw, 'POST', 'plan', { plan: 'platinum' });
    expect(plan.status).toBe(400);
    expect(plan.body.error.message).toMatch(/platinum/);
    const bad = await api(gw, 'POST', 'credits', { amount: -3, idempotencyKey: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/amount/);
    const fine = await api(gw, 'POST', 'credits', { amount: 0.0000001, idempotencyKey: 'y' });
    expect(fine.status).toBe(400);
  });
});
