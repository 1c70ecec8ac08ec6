/**
 * Red team: what a client token can do to the account, and names from input that used to find
 * Object.prototype's members. A client token sits in an agent's environment (Codex keeps it there),
 * so the agent's own shell commands can send it to the gateway: it must spend and read, never add
 * credits, reset windows, change the plan or the settings. Each attack here worked before roles.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Status } from '../../shared/protocol';
import type { RateCard } from '../../shared/rateCard';
import { findModelRate } from '../../shared/rateCard';
import { Ledger } from '../../proxy/ledger/ledger';
import { migrate } from '../../proxy/ledger/schema';
import { hashToken } from '../../proxy/ledger/tokens';
import { defaultRateCard } from '../../proxy/pricing';
import { rawRequest, startFakeUpstream, type FakeUpstream } from '../fake-upstream';
import { cli, serve, type ServeProcess } from '../helpers/cliProcess';
import { eventually, sseEvents, startTestGateway, type TestGateway } from '../helpers/testGateway';

const USAGE = JSON.stringify({ input_tokens: 1000, output_tokens: 400 });
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

let gw: TestGateway | null = null;
afterEach(async () => {
  await gw?.close();
  gw = null;
});

async function ownApi(g: TestGateway, method: string, route: string, auth: Record<string, string>, body?: unknown) {
  const res = await rawRequest(`${g.url}/creditgate/v1/${route}`, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = res.body.toString();
  return { status: res.status, body: text.startsWith('{') || text.startsWith('[') ? (JSON.parse(text) as unknown) : text };
}

function chat(g: TestGateway, model = 'gpt-5', auth = g.auth) {
  return rawRequest(`${g.url}/v1/chat/completions`, {
    headers: { ...auth, 'content-type': 'application/json', 'x-fake-usage': USAGE },
    body: JSON.stringify({ model, max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

/** Everything a change could move: plan, settings, windows, balance, grants and the audit trail. */
function accountSnapshot(g: TestGateway) {
  const { plan, autoUseCredits, windows, credits, state } = g.ledger.status();
  return { plan, autoUseCredits, windows, credits, state, autoReload: g.ledger.getAutoReload(), grants: g.ledger.grants(), audit: g.ledger.audit(1_000) };
}

/** An account with open windows and credits bought, so every change has something to move. */
async function accountInUse(): Promise<TestGateway> {
  const g = await startTestGateway({ plan: 'plus' });
  g.ledger.addCredits({ amount: 5_000_000, idempotencyKey: 'setup', source: 'purchase' });
  expect((await chat(g)).status).toBe(200);
  expect(g.ledger.status().windows.every((w) => w.resetsAt !== null)).toBe(true);
  return g;
}

const CHANGES = [
  { route: 'credits', body: { amount: 1_000_000, idempotencyKey: 'agent-free-money', source: 'purchase' }, action: 'credits_added' },
  { route: 'windows/reset', body: undefined, action: 'windows_reset' },
  { route: 'plan', body: { plan: 'pro' }, action: 'plan_set' },
  { route: 'settings', body: { autoUseCredits: false }, action: 'auto_use_credits_set' },
] as const;

describe('a client token cannot change the account', () => {
  for (const change of CHANGES) {
    it(`POST /creditgate/v1/${change.route} → 403 in the API's error shape, and nothing changes`, async () => {
      gw = await accountInUse();
      const before = accountSnapshot(gw);
      const res = await ownApi(gw, 'POST', change.route, gw.auth, change.body);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error: { type: 'invalid_request_error', code: 'forbidden', param: null, message: expect.stringMatching(/admin token/) },
      });
      const message = (res.body as { error: { message: string } }).error.message;
      expect(message).toContain('creditgate token --name NAME --admin');
      expect(message).toMatch(/CLI/);
      expect(message).toMatch(/editor/);
      expect(accountSnapshot(gw)).toEqual(before);
    });
  }

  it('is refused whatever the body, and still spends afterwards', async () => {
    gw = await accountInUse();
    const before = accountSnapshot(gw);
    expect((await ownApi(gw, 'POST', 'credits', gw.auth, { amount: -1 })).status).toBe(403);
    expect((await ownApi(gw, 'POST', 'settings', gw.auth, { autoReload: { enabled: true, threshold: 0, target: 1e9, maxPerMonth: 99 } })).status).toBe(403);
    expect(accountSnapshot(gw)).toEqual(before);
    expect((await chat(gw)).status).toBe(200);
  });
});

describe('an admin token can change the account, and the audit trail names it', () => {
  for (const change of CHANGES) {
    it(`POST /creditgate/v1/${change.route} → 200 with the new status, audited as api:test-admin`, async () => {
      gw = await accountInUse();
      const res = await ownApi(gw, 'POST', change.route, gw.adminAuth, change.body);
      expect(res.status).toBe(200);
      const status = res.body as Status;
      if (change.route === 'credits') expect(status.credits.balance).toBe(5 + 1_000_000);
      if (change.route === 'windows/reset') expect(status.windows.map((w) => w.resetsAt)).toEqual([null, null]);
      if (change.route === 'plan') expect(status.plan).toBe('pro');
      if (change.route === 'settings') expect(status.autoUseCredits).toBe(false);
      expect(gw.ledger.audit(1).at(-1)).toMatchObject({ actor: 'api:test-admin', action: change.action });
    });
  }
});

describe('a client token still spends and reads', () => {
  it('reads status, usage, credits, events and the rate card, and makes metered requests', async () => {
    gw = await accountInUse();
    expect((await chat(gw)).status).toBe(200);
    const status = await ownApi(gw, 'GET', 'status', gw.auth);
    expect(status.status).toBe(200);
    expect((status.body as Status).plan).toBe('plus');
    const usage = await ownApi(gw, 'GET', 'usage?groupBy=client', gw.auth);
    expect(usage).toMatchObject({ status: 200, body: [{ key: 'test-client', requests: 2 }] });
    const credits = await ownApi(gw, 'GET', 'credits', gw.auth);
    expect(credits).toMatchObject({ status: 200, body: [{ idempotencyKey: 'setup' }] });
    const card = await ownApi(gw, 'GET', 'rate-card', gw.auth);
    expect(card).toMatchObject({ status: 200, body: { version: defaultRateCard().version } });

    const controller = new AbortController();
    const events = await fetch(`${gw.url}/creditgate/v1/events`, { headers: gw.auth, signal: controller.signal });
    expect(events.status).toBe(200);
    const first = await events.body!.getReader().read();
    controller.abort();
    expect(sseEvents(new TextDecoder().decode(first.value))[0]).toMatchObject({ event: 'status', data: { plan: 'plus' } });
  });
});

describe('plan names are looked up as own properties', () => {
  for (const name of PROTOTYPE_NAMES) {
    it(`POST /creditgate/v1/plan {"plan":"${name}"} → 400 naming the known plans; the account keeps serving`, async () => {
      gw = await accountInUse();
      const res = await ownApi(gw, 'POST', 'plan', gw.adminAuth, { plan: name });
      expect(res.status).toBe(400);
      expect((res.body as { error: { message: string } }).error.message).toMatch(/unknown plan .*known plans: free, plus, pro/);
      expect(gw.ledger.status().plan).toBe('plus');
      expect((await chat(gw)).status).toBe(200);
      expect((await ownApi(gw, 'GET', 'status', gw.auth)).status).toBe(200);
    });
  }

  /** Stores a plan name as an older Creditgate could have (another process writing the account row). */
  function storePlan(g: TestGateway, name: string): void {
    const db = new Database(path.join(g.dataDir, 'creditgate.db'));
    // The revision moves as with every write of the row, so the gateway reads the row again.
    db.prepare('UPDATE account SET plan = ?, revision = revision + 1').run(name);
    db.close();
  }

  it('a stored plan that names no plan (written by an older version) gives no allowance, says so, and never 500s', async () => {
    gw = await accountInUse();
    storePlan(gw, 'constructor');
    const status = await ownApi(gw, 'GET', 'status', gw.auth);
    expect(status.status).toBe(200);
    const body = status.body as Status;
    expect(body).toMatchObject({ plan: 'constructor', state: 'credits' });
    expect(body.windows.map((w) => w.limit)).toEqual([0, 0]);
    expect(body.planWarning).toMatch(/plan "constructor" is not defined .*no allowance.*creditgate plan set/);
    const spent = await chat(gw);
    expect(spent.status).toBe(200);
    expect(spent.headers['x-creditgate-state']).toBe('credits');

    expect((await ownApi(gw, 'POST', 'plan', gw.adminAuth, { plan: 'plus' })).status).toBe(200);
    expect(gw.ledger.status().planWarning).toBeUndefined();
  });

  it('without credits, such an account is blocked like any account without allowance: 429, not 500', async () => {
    gw = await startTestGateway({ plan: 'plus' });
    storePlan(gw, '__proto__');
    const blocked = await chat(gw);
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body.toString()).error).toMatchObject({ type: 'usage_limit_reached', plan_type: '__proto__' });
    expect((await ownApi(gw, 'GET', 'status', gw.auth)).body).toMatchObject({ plan: '__proto__', state: 'blocked' });
    expect(cli(['status'], { CREDITGATE_DATA_DIR: gw.dataDir, CREDITGATE_CONFIG: '' }).stdout).toMatch(/warning: plan "__proto__" is not defined/);
  });

  it('the CLI refuses them too', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-red-team-'));
    try {
      for (const name of PROTOTYPE_NAMES) {
        const result = cli(['plan', 'set', name], { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '' });
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(new RegExp(`unknown plan "${name}"; known plans: free, plus`));
      }
      expect(JSON.parse(cli(['status', '--json'], { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '' }).stdout).plan).toBe('plus');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('settings keys: a body naming a prototype member is refused with 400 and changes nothing', async () => {
    gw = await accountInUse();
    const before = accountSnapshot(gw);
    for (const raw of ['{"constructor":true}', '{"__proto__":{"autoUseCredits":false}}', '{"toString":false}']) {
      const res = await rawRequest(`${gw.url}/creditgate/v1/settings`, { headers: { ...gw.adminAuth, 'content-type': 'application/json' }, body: raw });
      expect(res.status).toBe(400);
    }
    expect(accountSnapshot(gw)).toEqual(before);
  });
});

describe('model names are looked up as own properties', () => {
  const rate = (input: number) => ({ feature: 'assistant', input, output: 0 });
  const card: RateCard = {
    version: 'red-team',
    creditUsd: 0.04,
    models: { 'gpt-5': rate(1), 'con*': rate(2) },
    default: rate(3),
    packs: [],
  };

  it('resolve through globs, then the default, like any unknown model', () => {
    expect(findModelRate(card, 'constructor', 'openai')).toEqual(rate(2));
    expect(findModelRate(card, '__proto__', 'openai')).toEqual(rate(3));
    expect(findModelRate(card, 'toString', 'openai')).toEqual(rate(3));
    expect(findModelRate(card, 'hasOwnProperty', 'anthropic')).toEqual(rate(3));
    expect(findModelRate({ ...card, default: null }, '__proto__', 'openai')).toBeNull();
  });

  it('a request for one is refused with a 400 when the card has no default', async () => {
    gw = await startTestGateway({ plan: 'plus', rateCard: { ...defaultRateCard(), default: null } });
    for (const model of PROTOTYPE_NAMES) {
      const res = await chat(gw, model);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).error.message).toContain(`Model "${model}" is not on Creditgate's rate card`);
    }
    expect(gw.upstream.requests).toHaveLength(0);
    expect((await chat(gw)).status).toBe(200);
  });

  it('a request for one is priced by the default rate when the card has one', async () => {
    gw = await startTestGateway({ plan: 'plus', rateCard: card });
    for (const model of ['__proto__', 'toString']) {
      const res = await chat(gw, model);
      expect(res.status).toBe(200);
      // 1,000 input tokens at the default's 3 credits per million.
      expect(gw.ledger.usageRows({}).at(-1)).toMatchObject({ model, cost: 0.003 });
    }
    expect((await chat(gw, 'constructor')).status).toBe(200);
    expect(gw.ledger.usageRows({}).at(-1)).toMatchObject({ model: 'constructor', cost: 0.002 });
  });
});

describe('tokens from before roles', () => {
  it('become client tokens when the database is migrated', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-red-team-'));
    const file = path.join(dir, 'creditgate.db');
    try {
      const old = new Database(file);
      migrate(old, 4);
      old.prepare('INSERT INTO tokens (name, hash, created_at) VALUES (?, ?, 0)').run('codex', hashToken('cg_issued-before-roles'));
      old.close();
      const ledger = Ledger.open({ path: file, rateCard: defaultRateCard() });
      expect(ledger.authenticate('cg_issued-before-roles')).toEqual({ name: 'codex', role: 'client' });
      ledger.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('creditgate token --admin', () => {
  let upstream: FakeUpstream;
  let dataDir: string;
  let server: ServeProcess | null = null;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(async () => {
    if (server) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await upstream.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('issues an admin token that may change the account; a plain token stays a client', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-red-team-'));
    const env = { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '', CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`, OPENAI_API_KEY: 'sk-upstream' };
    const issued = cli(['token', '--name', 'ops', '--admin'], env);
    expect(issued.status).toBe(0);
    const admin = issued.stdout.trim().split('\n').at(-1)!;
    expect(admin).toMatch(/^cg_[A-Za-z0-9_-]{43}$/);
    expect(issued.stdout).toMatch(/admin token for "ops"/);
    const client = cli(['token', '--name', 'codex'], env).stdout.trim().split('\n').at(-1)!;
    expect(JSON.parse(cli(['token', '--name', 'json-admin', '--admin', '--json'], env).stdout)).toMatchObject({ name: 'json-admin', role: 'admin' });

    server = await serve([], env);
    const addCredits = (token: string, key: string) =>
      rawRequest(`${server!.url}/creditgate/v1/credits`, {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 7, idempotencyKey: key }),
      });
    expect((await addCredits(client, 'by-client')).status).toBe(403);
    const byAdmin = await addCredits(admin, 'by-admin');
    expect(byAdmin.status).toBe(200);
    expect(JSON.parse(byAdmin.body.toString()).credits.balance).toBe(7);
    expect(JSON.parse(cli(['status', '--json'], env).stdout).credits.balance).toBe(7);

    // Re-issuing without --admin revokes the admin token: the name's new token is a client's.
    const demoted = cli(['token', '--name', 'ops'], env).stdout.trim().split('\n').at(-1)!;
    await eventually(async () => expect((await addCredits(admin, 'revoked')).status).toBe(401));
    expect((await addCredits(demoted, 'demoted')).status).toBe(403);
  });
});
