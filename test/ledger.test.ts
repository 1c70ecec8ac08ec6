import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { microToCredits } from '../shared/money';
import { LedgerError } from '../proxy/ledger/ledger';
import { SCHEMA_VERSION, migrate } from '../proxy/ledger/schema';
import { credits } from '../proxy/ledger/statusView';
import type { TempLedger } from './fixtures/ledger-setup';
import { FIVE_HOURS, HOUR, RATE_CARD, T0, WEEK, auditDatabase, heldIn, micro, openTemp, request, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
afterEach(() => t?.cleanup());

const iso = (ms: number): string => new Date(ms).toISOString();

function admitted(estimate: number, feature = 'assistant') {
  const a = t.ledger.admit(request(estimate, feature));
  if (!a.admitted) throw new Error(`expected admission, got blocked: ${a.reason}`);
  return a;
}

function expectTotalsMatchRows(): void {
  const audit = auditDatabase(t.path);
  expect(audit.balance).toBe(audit.balanceFromRows);
  expect(audit.balance).toBe(audit.remainingMinusDebt);
  expect(audit.misflaggedGrants).toBe(0);
  const held = heldIn(t.ledger.status());
  expect(held.credits).toBe(audit.creditHeldFromRows);
  if (held.plan !== null) expect(held.plan).toBe(audit.planHeldFromRows);
}

describe('ledger: windows', () => {
  it('shows no open window before use, then opens both at the first metered request', () => {
    t = openTemp();
    const before = t.ledger.status();
    expect(before.windows.map((w) => [w.name, w.used, w.resetsAt, w.limit])).toEqual([
      ['5h', 0, null, 0.001],
      ['weekly', 0, null, 0.003],
    ]);
    const a = admitted(100);
    expect(a.state).toBe('plan');
    // The request that opens the windows reports used 0 and resets at now + length.
    expect(t.ledger.status().windows.map((w) => [w.used, w.usedPercent, w.resetsAt, w.held])).toEqual([
      [0, 0, iso(T0 + FIVE_HOURS), 0.0001],
      [0, 0, iso(T0 + WEEK), 0.0001],
    ]);
    t.clock.advance(1_000);
    const p = t.ledger.post(a.holdId, { usage: unitUsage(250) });
    expect([p.cost, p.planCost, p.creditCost]).toEqual([250, 250, 0]);
    expect(p.status.windows.map((w) => [w.used, w.remaining, w.usedPercent, w.held])).toEqual([
      [0.00025, 0.00075, 25, 0],
      [0.00025, 0.00275, 8.33, 0],
    ]);
    // The window stays anchored at the first request, not at the post.
    expect(p.status.windows[0]!.resetsAt).toBe(iso(T0 + FIVE_HOURS));
  });

  it('closes an ended window lazily and anchors the next one at the next request', () => {
    t = openTemp();
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(400) });
    t.clock.advance(FIVE_HOURS);
    const idle = t.ledger.status();
    expect(idle.windows[0]).toMatchObject({ used: 0, resetsAt: null });
    expect(idle.windows[1]).toMatchObject({ used: 0.0004, resetsAt: iso(T0 + WEEK) });
    t.clock.advance(2 * HOUR);
    const a = admitted(10);
    expect(t.ledger.status().windows[0]!.resetsAt).toBe(iso(T0 + 7 * HOUR + FIVE_HOURS));
    expect(a.limits.windows['5h'].endsAt).toBe(T0 + 7 * HOUR + FIVE_HOURS);
    t.ledger.post(a.holdId, { usage: unitUsage(100) });
    const s = t.ledger.status();
    expect(s.windows.map((w) => w.used)).toEqual([0.0001, 0.0005]);
    const periods = new Database(t.path, { readonly: true })
      .prepare('SELECT name, started_at, ends_at, closed_at, close_reason, used FROM window_periods ORDER BY id')
      .all();
    expect(periods).toEqual([
      { name: '5h', started_at: T0, ends_at: T0 + FIVE_HOURS, closed_at: T0 + FIVE_HOURS, close_reason: 'expired', used: 400 },
      { name: 'weekly', started_at: T0, ends_at: T0 + WEEK, closed_at: null, close_reason: null, used: null },
      { name: '5h', started_at: T0 + 7 * HOUR, ends_at: T0 + 12 * HOUR, closed_at: null, close_reason: null, used: null },
    ]);
  });

  it('lets the weekly window bind when it is the smaller remainder, with retryAt at its reset', () => {
    t = openTemp();
    // Three 5h periods of 900 each exhaust the weekly 3,000 before any 5h window does.
    for (let i = 0; i < 3; i++) {
      t.ledger.post(admitted(10).holdId, { usage: unitUsage(900) });
      t.clock.advance(FIVE_HOURS);
    }
    const s = t.ledger.status();
    expect(s.windows[1]).toMatchObject({ used: 0.0027, remaining: 0.0003 });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(300) }); // weekly exactly at its limit
    const blocked = t.ledger.admit(request(10));
    expect(blocked).toMatchObject({ admitted: false, state: 'blocked', reason: 'allowance_exhausted', retryAt: T0 + WEEK, planType: 'tiny' });
    t.ledger.addCredits({ amount: 5_000, idempotencyKey: 'k1', source: 'purchase' });
    expect(admitted(10).state).toBe('credits');
  });

  it('admin reset closes the windows, keeps credits, and is audited', () => {
    t = openTemp();
    t.ledger.addCredits({ amount: 7_000, idempotencyKey: 'k', source: 'promo' });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(1_000) });
    expect(t.ledger.status().state).toBe('credits');
    t.ledger.resetWindows('admin-test');
    const s = t.ledger.status();
    expect(s.state).toBe('plan');
    expect(s.windows.map((w) => [w.used, w.resetsAt])).toEqual([
      [0, null],
      [0, null],
    ]);
    expect(s.credits.balance).toBe(0.007);
    expect(t.ledger.audit().at(-1)).toMatchObject({ actor: 'admin-test', action: 'windows_reset', detail: { closed: ['5h', 'weekly'] } });
  });
});

describe('ledger: admission', () => {
  it('keeps admitting on the plan while holds leave something, then stops (holds count)', () => {
    t = openTemp();
    expect(admitted(600).state).toBe('plan'); // 1,000 − 600 = 400 left
    expect(admitted(399).state).toBe('plan'); // 1 left
    expect(admitted(5).state).toBe('plan'); // something was left, whatever this estimate
    const fourth = t.ledger.admit(request(1));
    expect(fourth).toMatchObject({ admitted: false, reason: 'allowance_exhausted', retryAt: T0 + FIVE_HOURS });
    expect(t.ledger.status().windows[0]!.held).toBe(0.001004);
  });

  it('writes only the hold row on admission; other connections still see the held sums', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'k', source: 'purchase' });
    const raw = new Database(t.path, { readonly: true });
    const accountRow = (): unknown => raw.prepare('SELECT * FROM account').get();
    try {
      const before = accountRow();
      admitted(300);
      expect(accountRow()).toEqual(before);
    } finally {
      raw.close();
    }
    const other = openTemp();
    try {
      expect(other.reopen({ path: t.path }).status().credits).toEqual({ balance: 0.001, held: 0.0003, available: 0.0007 });
    } finally {
      other.cleanup();
    }
  });

  it('reads back closed windows as closed after a reset and a reopen, and opens new ones on the next request', () => {
    t = openTemp(); // tiny plan: 1,000 micro-credits in 5 hours
    t.ledger.post(admitted(100).holdId, { usage: unitUsage(400) });
    t.ledger.resetWindows();
    t.reopen();
    expect(t.ledger.status().windows.map((w) => [w.name, w.used, w.resetsAt])).toEqual([
      ['5h', 0, null],
      ['weekly', 0, null],
    ]);
    // The whole allowance again: 1,000 on the plan, the next micro-credit on credits (none: blocked).
    t.ledger.post(admitted(100).holdId, { usage: unitUsage(1_000) });
    expect(t.ledger.status().windows[0]).toMatchObject({ used: 0.001, resetsAt: new Date(t.clock.now + 5 * 60 * 60 * 1_000).toISOString() });
  });

  it('never issues a hold id twice, even once the newest hold is settled and the file reopened', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'k', source: 'purchase' });
    const first = admitted(1).holdId;
    const second = admitted(1).holdId;
    t.ledger.void(second); // the newest id is no longer in the holds table
    t.reopen();
    const third = admitted(1).holdId;
    expect(third).toBeGreaterThan(second);
    t.ledger.post(third, { usage: unitUsage(1) });
    t.ledger.post(first, { usage: unitUsage(1) }); // the table is now empty
    t.reopen();
    expect(admitted(1).holdId).toBeGreaterThan(third);
    expect(() => t.ledger.post(second, { usage: unitUsage(1) })).toThrow(/not pending/);
    expectTotalsMatchRows();
  });

  it('holds at least one micro-credit, so zero estimates cannot flood a window', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 3, idempotencyKey: 'k', source: 'admin' });
    expect([admitted(0).state, admitted(0).state, admitted(0).state]).toEqual(['credits', 'credits', 'credits']);
    expect(t.ledger.admit(request(0)).admitted).toBe(false);
  });

  it('sends features the plan does not cover, and allowance-less plans, straight to credits', () => {
    t = openTemp();
    const images = t.ledger.admit(request(10, 'images'));
    expect(images).toMatchObject({ admitted: false, reason: 'no_credits', retryAt: null });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'k', source: 'purchase' });
    expect(admitted(10, 'images').state).toBe('credits');
    t.ledger.setPlan('enterprise');
    expect(admitted(10).state).toBe('credits');
    expect(t.ledger.status().windows.every((w) => w.limit === 0 && w.resetsAt === null)).toBe(true);
  });

  it('blocks with auto_use_off when credits exist but auto-use is off, and it stays off', () => {
    t = openTemp({ initialAutoUseCredits: true });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'k', source: 'purchase' });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(1_000) });
    t.ledger.setAutoUseCredits(false);
    expect(t.ledger.admit(request(10))).toMatchObject({ admitted: false, reason: 'auto_use_off', retryAt: T0 + FIVE_HOURS });
    // initialAutoUseCredits applies only to a database without the setting.
    expect(t.reopen({ initialAutoUseCredits: true }).status().autoUseCredits).toBe(false);
  });

  it('refuses unknown plans with a clear error, audits plan and setting changes', () => {
    t = openTemp();
    expect(() => t.ledger.setPlan('platinum')).toThrow(/unknown plan "platinum"/);
    t.ledger.setPlan('pro');
    t.ledger.setAutoUseCredits(false);
    expect(t.ledger.audit(2).map((a) => [a.action, a.detail])).toEqual([
      ['plan_set', { from: 'tiny', to: 'pro' }],
      ['auto_use_credits_set', { from: true, to: false }],
    ]);
    expect(t.reopen({ initialPlan: 'plus' }).status().plan).toBe('pro');
  });
});

describe('ledger: posting', () => {
  it('prices both vendors by their own token meanings, rounding once half up', () => {
    t = openTemp({ initialPlan: 'pro' });
    const openai = t.ledger.post(admitted(10).holdId, {
      model: 'gpt-test',
      usage: { vendor: 'openai', inputTokens: 10_000, cachedInputTokens: 4_000, cacheWriteTokens: 0, outputTokens: 2_000, reasoningTokens: 500 },
    });
    // (10,000 − 4,000) × 2 + 4,000 × 0.5 + 2,000 × 8 (reasoning is inside output)
    expect(openai.cost).toBe(30_000);
    const anthropic = t.ledger.post(admitted(10).holdId, {
      model: 'claude-test',
      usage: { vendor: 'anthropic', inputTokens: 1_000, cachedInputTokens: 20_000, cacheWriteTokens: 4_000, outputTokens: 3_000, reasoningTokens: 0 },
    });
    // 1,000 × 3 + 20,000 × 0.3 + 4,000 × 3.75 + 3,000 × 15
    expect(anthropic.cost).toBe(69_000);
    const half = t.ledger.post(admitted(10).holdId, {
      model: 'half-glob',
      usage: { vendor: 'openai', inputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1, reasoningTokens: 0 },
    });
    expect(half.cost).toBe(3); // 2.5 + 0.5 = 3 exactly; a single rounding, not 3 + 1
    const rows = t.ledger.usageRows({});
    expect(rows.map((r) => [r.model, r.cost, r.planCost, r.creditCost, r.inputTokens, r.cachedInputTokens, r.reasoningTokens])).toEqual([
      ['gpt-test', 0.03, 0.03, 0, 10_000, 4_000, 500],
      ['claude-test', 0.069, 0.069, 0, 1_000, 20_000, 0],
      ['half-glob', 0.000003, 0.000003, 0, 1, 0, 0],
    ]);
  });

  it('splits a plan hold: the plan up to what is left, the excess to credits (auto-use on)', () => {
    t = openTemp();
    t.ledger.addCredits({ amount: 500, idempotencyKey: 'k', source: 'purchase' });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(700) });
    const p = t.ledger.post(admitted(100).holdId, { usage: unitUsage(1_200) }); // 300 left on the plan
    expect([p.planCost, p.creditCost]).toEqual([300, 900]);
    expect(p.status.credits.balance).toBe(-0.0004); // may go negative by at most the excess
    expect(p.status.windows[0]!.used).toBe(0.001);
    expect(p.status.state).toBe('blocked');
    expectTotalsMatchRows();
  });

  it('records the overrun on the windows when auto-use is off, taking nothing from credits', () => {
    t = openTemp({ initialAutoUseCredits: false });
    t.ledger.addCredits({ amount: 500, idempotencyKey: 'k', source: 'purchase' });
    const p = t.ledger.post(admitted(100).holdId, { usage: unitUsage(1_200) });
    expect([p.planCost, p.creditCost]).toEqual([1_200, 0]);
    expect(p.status.windows[0]).toMatchObject({ used: 0.0012, remaining: 0, usedPercent: 120 });
    expect(p.status.credits.balance).toBe(0.0005);
  });

  it('voids a hold without a charge and refuses to settle a hold twice', () => {
    t = openTemp();
    const a = admitted(300);
    t.ledger.void(a.holdId);
    expect(t.ledger.status().windows[0]!.held).toBe(0);
    expect(t.ledger.usageRows({})).toEqual([]);
    expect(() => t.ledger.post(a.holdId, { usage: unitUsage(1) })).toThrow(LedgerError);
    const b = admitted(300);
    expect(b.holdId).toBe(a.holdId + 1); // ids are never reused
    t.ledger.post(b.holdId, { usage: unitUsage(5) });
    expect(() => t.ledger.void(b.holdId)).toThrow(expect.objectContaining({ code: 'hold_not_found' }));
  });

  it('throws a typed error for a model the rate card cannot price, leaving the hold pending', () => {
    t = openTemp();
    const a = admitted(10);
    expect(() => t.ledger.post(a.holdId, { model: 'mystery', usage: unitUsage(1) })).toThrow(
      expect.objectContaining({ code: 'unknown_model' }),
    );
    expect(t.ledger.post(a.holdId, { usage: unitUsage(1) }).cost).toBe(1);
  });

  it('reports lastCharge and the burn rate of plan credits over the last hour', () => {
    t = openTemp({ initialPlan: 'pro' });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(2_000_000) });
    t.clock.advance(30 * 60_000);
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(1_000_000) });
    let s = t.ledger.status();
    expect(s.burnRatePerHour).toBe(3);
    expect(s.lastCharge).toMatchObject({ ts: iso(T0 + 30 * 60_000), model: 'unit', client: 'test', cost: 1 });
    t.clock.advance(31 * 60_000);
    s = t.ledger.status();
    expect(s.burnRatePerHour).toBe(1);
    // A fresh instance rebuilds the same figures from the rows.
    expect(t.reopen().status().burnRatePerHour).toBe(1);
  });
});

describe('ledger: credits', () => {
  it('is idempotent per purchase key', () => {
    t = openTemp();
    const first = t.ledger.addCredits({ amount: 100_000_000, idempotencyKey: 'order-1', source: 'purchase' });
    const again = t.ledger.addCredits({ amount: 100_000_000, idempotencyKey: 'order-1', source: 'purchase' });
    expect(again).toEqual({ grantId: first.grantId, duplicate: true });
    expect(t.ledger.status().credits.balance).toBe(100);
    expect(() => t.ledger.addCredits({ amount: 0, idempotencyKey: 'z', source: 'purchase' })).toThrow(/positive integer/);
  });

  it('refuses a purchase key reused with another amount, source or expiry, adding and auditing nothing', () => {
    t = openTemp();
    const expiresAt = T0 + WEEK;
    const order = { amount: 100_000_000, idempotencyKey: 'order-1', source: 'purchase', expiresAt } as const;
    t.ledger.addCredits(order);
    const auditRows = t.ledger.audit().length;
    for (const other of [{ amount: 100_000_001 }, { source: 'promo' }, { expiresAt: null }, { expiresAt: expiresAt + 1 }] as const) {
      let error: unknown;
      try {
        t.ledger.addCredits({ ...order, ...other });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'idempotency_conflict', message: expect.stringMatching(/^idempotency key "order-1" was already used for a different purchase \(grant #1: 100 credits, purchase, expires 2026-11-10T09:00:00\.000Z; this one: /) });
    }
    expect(t.ledger.grants()).toHaveLength(1);
    expect(t.ledger.audit()).toHaveLength(auditRows);
    expect(t.ledger.status().credits.balance).toBe(100);
    expect(t.ledger.addCredits(order)).toMatchObject({ duplicate: true });
    expectTotalsMatchRows();
  });

  it('spends the grant expiring first, no-expiry last, and writes off expired remainders', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'forever', source: 'purchase' });
    t.ledger.addCredits({ amount: 300, idempotencyKey: 'late', source: 'promo', expiresAt: T0 + 2 * HOUR });
    t.ledger.addCredits({ amount: 200, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(250) });
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.remaining])).toEqual([
      ['forever', 0.001],
      ['late', 0.00025],
      ['soon', 0],
    ]);
    t.clock.advance(2 * HOUR); // 'late' expires with 250 left
    const events = (): unknown[] =>
      new Database(t.path, { readonly: true }).prepare("SELECT ts, kind, amount, grant_id FROM credit_events WHERE kind = 'expire'").all();
    // A status shows the balance without it, but reads only (it never waits for the write lock)...
    expect(t.ledger.status().credits.balance).toBe(0.001);
    expect(events()).toEqual([]);
    // ...and the next write books it, at the grant's expiry.
    t.ledger.setAutoUseCredits(true);
    expect(events()).toEqual([{ ts: T0 + 2 * HOUR, kind: 'expire', amount: 250, grant_id: 2 }]);
    expectTotalsMatchRows();
  });

  it('carries spending beyond every grant as debt that the next grant repays first', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'a', source: 'purchase' });
    t.ledger.post(admitted(50).holdId, { usage: unitUsage(160) });
    expect(t.ledger.status().credits).toEqual({ balance: -0.00006, held: 0, available: -0.00006 });
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: false, reason: 'no_credits' });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'b', source: 'purchase' });
    expect(t.ledger.grants().map((g) => [g.amount, g.remaining])).toEqual([
      [0.0001, 0],
      [0.001, 0.00094],
    ]);
    expect(t.ledger.status().credits.balance).toBe(0.00094);
    const audit = auditDatabase(t.path);
    expect(audit.debt).toBe(0);
    expectTotalsMatchRows();
  });

  it('auto-reloads below the threshold up to the target, at most N times a month', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.setAutoReload({ threshold: 1_000, target: 5_000, maxPerMonth: 2 });
    t.ledger.addCredits({ amount: 1_500, idempotencyKey: 'seed', source: 'purchase' });
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(600) }); // 900 < 1,000 → +4,100
    expect(t.ledger.status().credits.balance).toBe(0.005);
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(4_500) }); // 500 → +4,500
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(4_500) }); // 500, limit reached
    expect(t.ledger.status().credits.balance).toBe(0.0005);
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.amount, g.source])).toEqual([
      ['seed', 0.0015, 'purchase'],
      ['auto-reload:2026-11:1', 0.0041, 'purchase'],
      ['auto-reload:2026-11:2', 0.0045, 'purchase'],
    ]);
    t.clock.now = Date.UTC(2026, 11, 1); // December: a new allowance of reloads
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(100) });
    expect(t.ledger.grants().at(-1)).toMatchObject({ idempotencyKey: 'auto-reload:2026-12:1', amount: 0.0046 });
    t.ledger.setAutoReload(null);
    t.ledger.post(admitted(10).holdId, { usage: unitUsage(4_900) });
    expect(t.ledger.getAutoReload()).toBeNull();
    expect(t.ledger.status().credits.balance).toBe(0.0001);
  });
});

describe('ledger: recovery, tokens, reports', () => {
  it('settles holds of a dead instance at their estimate, flagged gateway_restart', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    admitted(1_234);
    admitted(66);
    t.reopen(); // the old instance is gone without settling; same pid, other instance
    expect(t.ledger.status().credits.held).toBe(0.0013);
    expect(t.ledger.recover()).toBe(2);
    expect(t.ledger.recover()).toBe(0);
    const rows = t.ledger.usageRows({});
    expect(rows.map((r) => [r.cost, r.creditCost, r.estimated, r.reason])).toEqual([
      [0.001234, 0.001234, true, 'gateway_restart'],
      [0.000066, 0.000066, true, 'gateway_restart'],
    ]);
    expect(t.ledger.status().credits).toEqual({ balance: 0.0087, held: 0, available: 0.0087 });
  });

  it('does not recover the holds of another live instance', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    admitted(5);
    const other = openTemp();
    try {
      const sibling = other.reopen({ path: t.path });
      expect(sibling.recover()).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  it('issues tokens, revokes the previous one per name, and stores only a hash', () => {
    t = openTemp();
    const first = t.ledger.issueToken('codex');
    expect(first).toMatch(/^cg_[A-Za-z0-9_-]{43}$/);
    expect(t.ledger.authenticate(first)).toEqual({ name: 'codex', role: 'client' });
    const second = t.ledger.issueToken('codex', 'admin');
    const other = t.ledger.issueToken('vscode');
    expect([t.ledger.authenticate(first), t.ledger.authenticate(second), t.ledger.authenticate(other)]).toEqual([
      null,
      { name: 'codex', role: 'admin' },
      { name: 'vscode', role: 'client' },
    ]);
    expect(t.ledger.authenticate('cg_wrong')).toBeNull();
    t.ledger.close();
    for (const file of ['ledger.db', 'ledger.db-wal']) {
      const bytes = (() => {
        try {
          return readFileSync(`${t.dir}/${file}`).toString('latin1');
        } catch {
          return '';
        }
      })();
      expect(bytes.includes(second.slice(3))).toBe(false);
    }
    t.reopen();
  });

  it('answers usage rows and groups by day, model, client and feature within since/until', () => {
    t = openTemp({ initialPlan: 'pro' });
    const post = (model: string, client: string, micro: number): void => {
      const a = t.ledger.admit({ ...request(10), model, client });
      if (!a.admitted) throw new Error('blocked');
      t.ledger.post(a.holdId, { usage: { ...unitUsage(0), inputTokens: 1_000_000, outputTokens: micro } });
    };
    post('unit', 'codex', 1_000); // day 1: input is free on `unit`
    t.clock.advance(24 * HOUR);
    post('unit', 'vscode', 2_000);
    post('gpt-test', 'codex', 0); // 1M input × 2 = 2 credits
    expect(t.ledger.usageGroups({ groupBy: 'day' })).toEqual([
      { key: '2026-11-03', requests: 1, cost: 0.001, inputTokens: 1_000_000, outputTokens: 1_000 },
      { key: '2026-11-04', requests: 2, cost: 2.002, inputTokens: 2_000_000, outputTokens: 2_000 },
    ]);
    expect(t.ledger.usageGroups({ groupBy: 'client' }).map((g) => [g.key, g.cost])).toEqual([
      ['codex', 2.001],
      ['vscode', 0.002],
    ]);
    expect(t.ledger.usageGroups({ groupBy: 'feature' }).map((g) => [g.key, g.requests])).toEqual([['assistant', 3]]);
    const day2 = t.ledger.usageRows({ since: iso(T0 + 24 * HOUR) });
    expect(day2.map((r) => r.client)).toEqual(['vscode', 'codex']);
    expect(t.ledger.usageRows({ until: iso(T0 + 24 * HOUR) }).map((r) => r.id)).toEqual([1]);
    expect(t.ledger.usageRows({ since: iso(T0 + 48 * HOUR) })).toEqual([]);
    expect(t.ledger.usageRows({ limit: 1 }).map((r) => r.id)).toEqual([3]);
    expect(() => t.ledger.usageRows({ since: 'yesterday' })).toThrow(/ISO-8601/);
  });

  it('keeps usage timestamps non-decreasing when the clock steps back', () => {
    t = openTemp({ initialPlan: 'pro' });
    t.ledger.post(admitted(1).holdId, { usage: unitUsage(1) });
    t.clock.jump(-HOUR);
    t.ledger.post(admitted(1).holdId, { usage: unitUsage(1) });
    expect(t.ledger.usageRows({}).map((r) => r.ts)).toEqual([iso(T0), iso(T0)]);
  });

  it('returns recent measured outputs per model, newest first, across processes', () => {
    t = openTemp({ initialPlan: 'pro' });
    for (const out of [10, 20, 30]) t.ledger.post(admitted(1).holdId, { usage: unitUsage(out) });
    t.ledger.post(admitted(1).holdId, { usage: unitUsage(999), estimated: true, reason: 'client_disconnect' });
    expect(t.ledger.recentOutputTokens('unit', 2)).toEqual([30, 20]);
    expect(t.ledger.recentOutputTokens('gpt-test', 5)).toEqual([]);
    const other = openTemp();
    try {
      const writer = other.reopen({ path: t.path });
      const a = writer.admit(request(1));
      if (!a.admitted) throw new Error('blocked');
      writer.post(a.holdId, { usage: unitUsage(40) });
      writer.close();
    } finally {
      other.cleanup();
    }
    expect(t.ledger.recentOutputTokens('unit', 10)).toEqual([40, 30, 20, 10]);
  });

  it('changes dataVersion on its own writes and on other connections’ writes', () => {
    t = openTemp();
    const v0 = t.ledger.dataVersion();
    t.ledger.addCredits({ amount: 1, idempotencyKey: 'a', source: 'admin' });
    const v1 = t.ledger.dataVersion();
    expect(v1).not.toBe(v0);
    const db = new Database(t.path);
    db.prepare("INSERT INTO audit (ts, actor, action, detail) VALUES (0, 'x', 'poke', '{}')").run();
    db.close();
    expect(t.ledger.dataVersion()).not.toBe(v1);
    expect(t.ledger.dataVersion()).toBe(t.ledger.dataVersion());
  });

  it('sees another process’s credits at once (cached totals are checked against data_version)', () => {
    t = openTemp({ initialPlan: 'free' });
    expect(t.ledger.admit(request(1)).admitted).toBe(false);
    const cli = openTemp();
    try {
      cli.reopen({ path: t.path }).addCredits({ amount: 50, idempotencyKey: 'cli', source: 'purchase' });
    } finally {
      cli.cleanup();
    }
    expect(t.ledger.admit(request(1)).admitted).toBe(true);
  });

  it('migrates forward, records user_version, and refuses a newer schema', () => {
    t = openTemp();
    t.ledger.close();
    const db = new Database(t.path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => t.reopen()).toThrow(/newer than this Creditgate/);
    const fix = new Database(t.path);
    fix.pragma(`user_version = ${SCHEMA_VERSION}`);
    fix.close();
    t.reopen();
  });
});

describe('ledger: migrations', () => {
  it('carries a version-1 file forward: held sums from its open holds, spent grants out of the index, ids not reused', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.close();
    rmSync(t.path);
    const v1 = new Database(t.path);
    migrate(v1, 1);
    v1.exec(`
      UPDATE account SET plan = 'free', auto_use_credits = 1, balance = 500, credit_held = 70, last_hold_id = 9;
      INSERT INTO grants (ts, source, amount, remaining, expires_at, spend_order, idempotency_key)
        VALUES (${T0}, 'purchase', 300, 0, NULL, ${Number.MAX_SAFE_INTEGER}, 'spent'),
               (${T0}, 'purchase', 500, 500, NULL, ${Number.MAX_SAFE_INTEGER}, 'open');
      INSERT INTO credit_events (ts, kind, amount, grant_id) VALUES (${T0}, 'expire', 300, 1);
      INSERT INTO holds (id, ts, request_id, client, model, route, feature, kind, estimate, owner_pid, owner_instance)
        VALUES (7, ${T0}, 'r', 'c', 'unit', '/v1/responses', 'assistant', 'credits', 70, 2147483000, 'gone'); -- a pid no process has
    `);
    v1.close();
    t.reopen();
    expect(t.ledger.status().credits).toEqual({ balance: 0.0005, held: 0.00007, available: 0.00043 });
    expect(admitted(1).holdId).toBe(10);
    expect(t.ledger.recover()).toBe(1);
    expect(t.ledger.grants().map((g) => g.remaining)).toEqual([0, 0.00043]);
    expectTotalsMatchRows();
  });

  it('carries usage rows written before the unpriced flag forward as priced', () => {
    t = openTemp();
    t.ledger.close();
    rmSync(t.path);
    // A version-5 file as that Creditgate left it (later migrations add columns of their own).
    const v5 = new Database(t.path);
    migrate(v5, 5);
    v5.exec(`
      UPDATE account SET plan = 'tiny', auto_use_credits = 1;
      INSERT INTO usage (ts, hold_id, request_id, client, feature, model, route, status, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens, reasoning_tokens, cost, plan_cost, credit_cost, estimated, reason)
        VALUES (${T0}, 1, 'r', 'c', 'assistant', 'unit', '/v1/responses', 200, 0, 0, 0, 5, 0, 5, 5, 0, 0, NULL);
    `);
    v5.close();
    t.reopen();
    expect(t.ledger.usageRows({}).map((r) => r.unpriced)).toEqual([false]);
  });
});

describe('ledger: models the rate card does not list', () => {
  const card = { ...RATE_CARD, default: { openai: RATE_CARD.models['gpt-test']!, anthropic: null } };

  it('prices them by the default, flags their rows unpriced, and names them in the status', () => {
    t = openTemp({ rateCard: card, initialPlan: 'pro' });
    const usage = { ...unitUsage(0), inputTokens: 1_000, outputTokens: 100 };
    const unknown = t.ledger.admit({ ...request(10), model: 'gpt-mystery' });
    if (!unknown.admitted) throw new Error('blocked');
    const posted = t.ledger.post(unknown.holdId, { usage });
    expect(posted.cost).toBe(1_000 * 2 + 100 * 8); // gpt-test's prices
    const listed = t.ledger.admit({ ...request(10), model: 'gpt-test' });
    if (!listed.admitted) throw new Error('blocked');
    t.ledger.post(listed.holdId, { usage });
    expect(t.ledger.usageRows({}).map((r) => [r.model, r.unpriced])).toEqual([['gpt-mystery', true], ['gpt-test', false]]);
    expect(t.ledger.status().unpricedModels).toEqual(['gpt-mystery']);
    // Another process (a CLI, a second gateway) reads the same from the file.
    const other = t.reopen();
    expect(other.status().unpricedModels).toEqual(['gpt-mystery']);
  });

  it('says nothing in the status while every row was priced by a listed rate', () => {
    t = openTemp({ rateCard: card, initialPlan: 'pro' });
    const a = admitted(10);
    t.ledger.post(a.holdId, { usage: unitUsage(5) });
    expect(t.ledger.status()).not.toHaveProperty('unpricedModels');
  });
});

describe('ledger: status numbers', () => {
  it('converts micro-credits exactly like shared/money microToCredits', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (m) => {
        expect(credits(m)).toBe(microToCredits(m));
      }),
      { numRuns: 5_000 },
    );
    expect(micro(credits(123_456_789))).toBe(123_456_789);
  });
});
