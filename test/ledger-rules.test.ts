/**
 * The ledger's rules (proxy/ledger/rules.ts) driven directly over an in-memory LedgerTx (the
 * PostgreSQL store's SnapshotTx, which needs no server): a team seat's weekly cap on the pool, the
 * totals' invariants every write asserts, and refund requests refused before any transaction.
 */
import { describe, expect, it } from 'vitest';
import type { Micro } from '../shared/money';
import { LedgerError } from '../proxy/ledger/errors';
import { RecentUsage } from '../proxy/ledger/recentUsage';
import type { AccountRow } from '../proxy/ledger/rows';
import type { Working } from '../proxy/ledger/rules';
import { AccountRules, assertTotals, validateRefund } from '../proxy/ledger/rules';
import { NO_EXPIRY_ORDER } from '../proxy/ledger/schema';
import { WALL_CLOCK_TOLERANCE_MS } from '../proxy/ledger/trustedTime';
import { SnapshotTx } from '../proxy/ledger/postgres/snapshotTx';
import { RATE_CARD, T0, TEST_PLANS, request, unitUsage } from './fixtures/ledger-setup';

const WEEK = 7 * 24 * 60 * 60 * 1_000;

function account(extra: Partial<AccountRow> = {}): AccountRow {
  return {
    plan: 'free', // no allowance: every request runs on the pool
    autoUseCredits: true,
    autoReload: null,
    balance: 100_000,
    debt: 0,
    creditHeld: 0,
    planHeld: 0,
    lastHoldId: 0,
    nextExpiry: null,
    lastUsageTs: 0,
    periods: { '5h': null, weekly: null },
    clockMark: null,
    revision: 0,
    storedUsageId: 0,
    totalsUsageId: 0,
    ...extra,
  };
}

/** Rules over a pool of `balance` in one grant, for a seat capped at `cap` a week. */
function seatWithCap(cap: Micro, balance: Micro = 100_000) {
  const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
  const tx = SnapshotTx.ofLiveGrants([{ id: 1, remaining: balance, expiresAt: null, spendOrder: NO_EXPIRY_ORDER }]);
  const w: Working = { now: T0, measured: T0, certain: T0, account: account({ balance, creditCap: { cap, used: 0, weekStart: null, held: 0 } }), mustSave: false, posted: [] };
  const at = (now: number): Working => Object.assign(w, { now, measured: now, certain: now });
  return { rules, tx, w, at };
}

describe("a seat's weekly cap on the pool", () => {
  it('admits up to the cap, counts holds and charges against it, and blocks with seat_cap until the cap week ends', () => {
    const { rules, tx, w, at } = seatWithCap(3_000);
    const first = rules.admit(tx, w, request(1_000));
    expect(first).toMatchObject({ admitted: true, state: 'credits', spendable: 3_000 });
    expect(w.account.creditCap).toMatchObject({ held: 1_000, used: 0 });
    if (!first.admitted) throw new Error('expected an admission');
    // The spendable amount is what the cap leaves, not what the pool holds.
    expect(rules.admit(tx, w, request(500))).toMatchObject({ admitted: true, spendable: 2_000 });
    rules.post(tx, at(T0 + 1_000), first.holdId, { usage: unitUsage(2_500) });
    expect(w.account.creditCap).toMatchObject({ cap: 3_000, used: 2_500, weekStart: T0 + 1_000, held: 500 });
    // 2,500 spent and 500 held: the cap is reached although the pool has plenty.
    expect(rules.admit(tx, w, request(1))).toMatchObject({ admitted: false, reason: 'seat_cap' });
    expect(w.account.balance).toBe(97_500);
    // Still the same cap week a millisecond before it ends; a new one after.
    expect(rules.admit(tx, at(T0 + 1_000 + WEEK - 1), request(1))).toMatchObject({ admitted: false, reason: 'seat_cap' });
    expect(rules.admit(tx, at(T0 + 1_000 + WEEK), request(1))).toMatchObject({ admitted: true, spendable: 2_500 });
  });

  it('starts a new cap week at the first pool spend after the last one ended', () => {
    const { rules, tx, w, at } = seatWithCap(10_000);
    const charge = (now: number, cost: Micro): void => {
      const admission = rules.admit(tx, at(now), request(1));
      if (!admission.admitted) throw new Error('expected an admission');
      rules.post(tx, w, admission.holdId, { usage: unitUsage(cost) });
    };
    charge(T0, 4_000);
    charge(T0 + WEEK - 1, 1_000);
    expect(w.account.creditCap).toMatchObject({ used: 5_000, weekStart: T0 });
    charge(T0 + WEEK, 300);
    expect(w.account.creditCap).toMatchObject({ used: 300, weekStart: T0 + WEEK, held: 0 });
  });

  it('gives back what a voided hold held of the cap', () => {
    const { rules, tx, w } = seatWithCap(3_000);
    const admission = rules.admit(tx, w, request(2_000));
    if (!admission.admitted) throw new Error('expected an admission');
    expect(w.account.creditCap?.held).toBe(2_000);
    rules.void(tx, w, admission.holdId);
    expect(w.account.creditCap).toMatchObject({ held: 0, used: 0 });
    expect(w.account.creditHeld).toBe(0);
    expect(rules.admit(tx, w, request(1))).toMatchObject({ admitted: true, spendable: 3_000 });
  });

  it('changes the cap without forgetting what was spent and held this week, and lifts it with null', () => {
    const { rules, tx, w } = seatWithCap(3_000);
    w.account.creditCap = { cap: 3_000, used: 1_200, weekStart: T0, held: 300 };
    rules.setCreditCap(tx, w, 5_000, 'admin');
    expect(w.account.creditCap).toEqual({ cap: 5_000, used: 1_200, weekStart: T0, held: 300 });
    rules.setCreditCap(tx, w, null, 'admin');
    expect(w.account.creditCap).toBeNull();
    // A seat that had none starts from nothing.
    rules.setCreditCap(tx, w, 700, 'admin');
    expect(w.account.creditCap).toEqual({ cap: 700, used: 0, weekStart: null, held: 0 });
    expect(tx.changes().audit.map((a) => [a.action, a.detail])).toEqual([
      ['seat_cap_set', { from: 3_000, to: 5_000 }],
      ['seat_cap_set', { from: 5_000, to: null }],
      ['seat_cap_set', { from: null, to: 700 }],
    ]);
  });

  it('leaves the pool as it is when the cap leaves more than the pool has', () => {
    const { rules, tx, w } = seatWithCap(1_000_000, 5_000);
    expect(rules.admit(tx, w, request(1))).toMatchObject({ admitted: true, spendable: 5_000 });
  });

  it("compares the cap with what the pool has left after other seats' open requests", () => {
    const { rules, tx, w } = seatWithCap(2_000, 5_000);
    w.account.creditHeld = 4_000; // other seats' requests in flight hold 4,000 of the pool's 5,000
    expect(rules.admit(tx, w, request(1))).toMatchObject({ admitted: true, spendable: 1_000 });
  });

  it('names the empty pool, not the cap, when both are used up', () => {
    const { rules, tx, w } = seatWithCap(1_000, 0);
    w.account.creditCap = { cap: 1_000, used: 1_000, weekStart: T0, held: 0 };
    expect(rules.admit(tx, w, request(1))).toMatchObject({ admitted: false, reason: 'no_credits' });
  });
});

describe('a seat whose settings were never set', () => {
  it('may go on spending the pool, and its status says so', () => {
    const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
    const tx = SnapshotTx.ofLiveGrants([{ id: 1, remaining: 5_000, expiresAt: null, spendOrder: NO_EXPIRY_ORDER }]);
    // A team seat added without an overflow policy: continue_on_pool is NULL.
    const w: Working = { now: T0, measured: T0, certain: T0, account: account({ balance: 5_000, autoUseCredits: null }), mustSave: false, posted: [] };
    expect(rules.statusOf(w).autoUseCredits).toBe(true);
    expect(rules.admit(tx, w, request(100))).toMatchObject({ admitted: true, state: 'credits' });
  });
});

describe('a hold placed on credits', () => {
  it('is charged to credits even when a window has opened again by the time it settles', () => {
    const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
    const tx = SnapshotTx.ofLiveGrants([{ id: 1, remaining: 50_000, expiresAt: null, spendOrder: NO_EXPIRY_ORDER }]);
    // The tiny plan's 5-hour window (1,000) is used up: the request is admitted on credits.
    const periods = { '5h': { id: 1, endsAt: T0 + 1_000, used: 1_000, measuredFrom: null }, weekly: null };
    const w: Working = { now: T0, measured: T0, certain: T0, account: account({ plan: 'tiny', balance: 50_000, periods }), mustSave: false, posted: [] };
    const admission = rules.admit(tx, w, request(100));
    expect(admission).toMatchObject({ admitted: true, state: 'credits' });
    if (!admission.admitted) throw new Error('expected an admission');
    Object.assign(w, { now: T0 + 2_000, measured: T0 + 2_000, certain: T0 + 2_000 }); // the window has ended
    expect(rules.post(tx, w, admission.holdId, { usage: unitUsage(300) })).toMatchObject({ cost: 300, planCost: 0, creditCost: 300 });
  });
});

describe("a window's end", () => {
  const FIVE_HOURS = 5 * 60 * 60 * 1_000;
  const resetsAt = (measuredFrom: number): string | null => {
    const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
    const periods = { '5h': { id: 1, endsAt: T0 + FIVE_HOURS, used: 10, measuredFrom }, weekly: null };
    const w: Working = { now: T0, measured: T0, certain: T0, account: account({ plan: 'tiny', periods }), mustSave: false, posted: [] };
    return rules.statusOf(w).windows.find((window) => window.name === '5h')!.resetsAt;
  };

  it('stays where the clock put it while the measured time agrees within the tolerance', () => {
    expect(resetsAt(T0 - 1)).toBe(new Date(T0 + FIVE_HOURS).toISOString());
    expect(resetsAt(T0 - WALL_CLOCK_TOLERANCE_MS)).toBe(new Date(T0 + FIVE_HOURS).toISOString());
  });

  it('comes sooner when the wall clock was ahead as the period opened', () => {
    const measuredEnd = T0 + FIVE_HOURS - WALL_CLOCK_TOLERANCE_MS - 1;
    expect(resetsAt(T0 - WALL_CLOCK_TOLERANCE_MS - 1)).toBe(new Date(measuredEnd).toISOString());
  });
});

describe('a windows reset', () => {
  it('closes a period that ends at that very moment as expired, one still running as reset', () => {
    const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
    const tx = SnapshotTx.ofLiveGrants([]);
    const periods = { '5h': { id: 1, endsAt: T0, used: 10, measuredFrom: null }, weekly: { id: 2, endsAt: T0 + 1, used: 10, measuredFrom: null } };
    const w: Working = { now: T0, measured: T0, certain: T0, account: account({ plan: 'tiny', periods }), mustSave: false, posted: [] };
    rules.resetWindows(tx, w, 'admin');
    expect(tx.changes().closedPeriods.map((p) => [p.id, p.closeReason, p.closedAt])).toEqual([
      [1, 'expired', T0],
      [2, 'reset', T0],
    ]);
    expect(w.account.periods).toEqual({ '5h': null, weekly: null });
    expect(tx.changes().audit.at(-1)).toMatchObject({ action: 'windows_reset', detail: { closed: ['weekly'] } });
  });
});

describe('the totals every write asserts', () => {
  it('accepts totals that keep the invariants, debt included', () => {
    expect(() => assertTotals(account())).not.toThrow();
    expect(() => assertTotals(account({ balance: -300, debt: 300 }))).not.toThrow();
    expect(() => assertTotals(account({ balance: 0, creditHeld: 5, planHeld: 7 }))).not.toThrow();
  });

  it.each([
    [{ debt: -1 }, 'debt -1 is negative'],
    [{ creditHeld: -1 }, 'held totals are negative (credits -1, plan 0)'],
    [{ planHeld: -2 }, 'held totals are negative (credits 0, plan -2)'],
    [{ balance: 100, debt: 50 }, 'balance 100 with debt 50: debt is owed only when no grant has credit left'],
    [{ balance: -1, debt: 0 }, 'balance -1 is below minus the debt 0'],
  ] as const)('refuses %o', (totals, message) => {
    let error: unknown;
    try {
      assertTotals(account(totals));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'internal', message: `ledger totals broke an invariant: ${message}` });
  });
});

describe('a refund request', () => {
  it.each([
    [{ amount: 0 }, 'amount must be a positive integer of micro-credits, got 0'],
    [{ amount: -5 }, 'amount must be a positive integer of micro-credits, got -5'],
    [{ amount: 1.5 }, 'amount must be a positive integer of micro-credits, got 1.5'],
    [{ idempotencyKey: '' }, 'idempotencyKey is required'],
    [{ grantKey: '' }, "grantKey (the refunded grant's idempotency key) is required"],
  ] as const)('is refused before any transaction: %o', (change, message) => {
    const req = { grantKey: 'order-1', amount: 100, idempotencyKey: 'refund-1', ...change };
    expect(() => validateRefund(req)).toThrow(new LedgerError('invalid_argument', message));
  });

  it('is audited once: a repeated delivery writes nothing more', () => {
    const rules = new AccountRules({ plans: TEST_PLANS, rateCard: RATE_CARD, owner: { pid: 1, instance: 'test' }, recent: new RecentUsage() });
    const tx = SnapshotTx.ofLiveGrants([], { grants: ['order-1'], refunds: ['refund-1'] });
    const w: Working = { now: T0, measured: T0, certain: T0, account: account({ balance: 0 }), mustSave: false, posted: [] };
    rules.addCredits(tx, w, { amount: 1_000, idempotencyKey: 'order-1', source: 'purchase' }, 'admin');
    const audited = (): unknown[] => tx.changes().audit.map((a) => [a.actor, a.action, a.detail]);
    expect(rules.refundCredits(tx, w, { grantKey: 'order-1', amount: 400, idempotencyKey: 'refund-1' }, 'stripe')).toEqual({ refundId: 1, duplicate: false });
    const once = [
      ['admin', 'credits_added', { grantId: 1, amount: 1_000, source: 'purchase' }],
      ['stripe', 'credits_refunded', { refundId: 1, grantKey: 'order-1', amount: 400 }],
    ];
    expect(audited()).toEqual(once);
    expect(rules.refundCredits(tx, w, { grantKey: 'order-1', amount: 400, idempotencyKey: 'refund-1' }, 'stripe')).toEqual({ refundId: 1, duplicate: true });
    expect(audited()).toEqual(once);
    expect(w.account.balance).toBe(600);
  });
});
