/**
 * Credit grants at their edges (proxy/ledger/credits.ts): a charge that uses up a grant exactly, an
 * expiry at the very millisecond of adding, and the audit trail of debt and its repayment. The ledger
 * tests cover the ordinary paths; each case here is one a wrong comparison or a dropped row got past.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerError } from '../proxy/ledger/ledger';
import type { TempLedger } from './fixtures/ledger-setup';
import { HOUR, T0, auditDatabase, openTemp, request, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
afterEach(() => t?.cleanup());

function charge(cost: number): number {
  const a = t.ledger.admit(request(1));
  if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
  return t.ledger.post(a.holdId, { usage: unitUsage(cost) }).usageId;
}

function query(sql: string): unknown[] {
  const db = new Database(t.path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

describe('credit grants at their edges', () => {
  it('exhausts a grant that a charge uses up exactly, so the next charge starts on the next grant', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 200, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'forever', source: 'purchase' });
    t.clock.advance(60_000);
    charge(200);
    // Spent, and stamped so: an unstamped empty grant would stay at the head of the spending order.
    expect(query('SELECT idempotency_key, remaining, spent_at FROM grants ORDER BY id')).toEqual([
      { idempotency_key: 'soon', remaining: 0, spent_at: T0 + 60_000 },
      { idempotency_key: 'forever', remaining: 1_000, spent_at: null },
    ]);
    charge(300);
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.remaining])).toEqual([
      ['soon', 0],
      ['forever', 0.0007],
    ]);
    // Its expiry then writes nothing off: there was nothing left of it.
    t.clock.advance(2 * HOUR);
    expect(t.ledger.status().credits.balance).toBe(0.0007);
    // The allocation rows say which grant paid for each charge; no expiry was written.
    expect(query('SELECT kind, amount, grant_id FROM credit_events ORDER BY id')).toEqual([
      { kind: 'spend', amount: 200, grant_id: 1 },
      { kind: 'spend', amount: 300, grant_id: 2 },
    ]);
    expect(auditDatabase(t.path).misflaggedGrants).toBe(0);
  });

  it('refuses a grant that expires at the moment it is added, and takes one a millisecond later', () => {
    t = openTemp({ initialPlan: 'free' });
    let error: unknown;
    try {
      t.ledger.addCredits({ amount: 100, idempotencyKey: 'now', source: 'promo', expiresAt: T0 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'invalid_argument', message: 'a grant cannot expire before it is added' });
    expect(t.ledger.grants()).toEqual([]);
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'later', source: 'promo', expiresAt: T0 + 1 });
    expect(t.ledger.status().credits.balance).toBe(0.0001);
  });


  it('records debt against the usage row that ran it up, and its repayment against the grant that repaid it', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'a', source: 'purchase' });
    t.clock.advance(1_000);
    const usageId = charge(160);
    t.clock.advance(1_000);
    const { grantId } = t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'b', source: 'purchase' });
    expect(query('SELECT ts, kind, amount, grant_id, usage_id FROM credit_events ORDER BY id')).toEqual([
      { ts: T0 + 1_000, kind: 'spend', amount: 100, grant_id: 1, usage_id: usageId },
      { ts: T0 + 1_000, kind: 'debt', amount: 60, grant_id: null, usage_id: usageId },
      { ts: T0 + 2_000, kind: 'debt_repaid', amount: 60, grant_id: grantId, usage_id: null },
    ]);
    expect(query('SELECT id, remaining, spent_at FROM grants ORDER BY id')).toEqual([
      { id: 1, remaining: 0, spent_at: T0 + 1_000 },
      { id: grantId, remaining: 940, spent_at: null },
    ]);
  });

  it('takes a grant wholly used by debt out of the spending order on arrival', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'a', source: 'purchase' });
    charge(400);
    t.clock.advance(1_000);
    const { grantId } = t.ledger.addCredits({ amount: 300, idempotencyKey: 'b', source: 'purchase' });
    expect(query(`SELECT remaining, spent_at FROM grants WHERE id = ${grantId}`)).toEqual([{ remaining: 0, spent_at: T0 + 1_000 }]);
    expect(t.ledger.status().credits.balance).toBe(0);
    expect(auditDatabase(t.path)).toMatchObject({ debt: 0, misflaggedGrants: 0 });
  });
  it('writes off each expiring grant in turn, however many there are', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'first', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 200, idempotencyKey: 'second', source: 'promo', expiresAt: T0 + 2 * HOUR });
    t.ledger.addCredits({ amount: 400, idempotencyKey: 'third', source: 'promo', expiresAt: T0 + 3 * HOUR });
    const balances: number[] = [];
    for (let hour = 1; hour <= 3; hour++) {
      t.clock.now = T0 + hour * HOUR;
      balances.push(t.ledger.status().credits.balance);
      t.ledger.setAutoUseCredits(true); // a write books the write-off
    }
    expect(balances).toEqual([0.0006, 0.0004, 0]);
    expect(query("SELECT ts, amount, grant_id FROM credit_events WHERE kind = 'expire' ORDER BY id")).toEqual([
      { ts: T0 + HOUR, amount: 100, grant_id: 1 },
      { ts: T0 + 2 * HOUR, amount: 200, grant_id: 2 },
      { ts: T0 + 3 * HOUR, amount: 400, grant_id: 3 },
    ]);
    expect(auditDatabase(t.path)).toMatchObject({ balance: 0, balanceFromRows: 0, misflaggedGrants: 0 });
  });

  it('stores the next expiry when one is written off or refunded, so a new process writes off the next grant in time', () => {
    t = openTemp({ initialPlan: 'free' });
    const storedExpiry = (): unknown => (query('SELECT next_expiry FROM account')[0] as { next_expiry: number | null }).next_expiry;
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'first', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 200, idempotencyKey: 'refunded', source: 'purchase', expiresAt: T0 + 2 * HOUR });
    t.ledger.addCredits({ amount: 400, idempotencyKey: 'third', source: 'promo', expiresAt: T0 + 3 * HOUR });
    t.clock.now = T0 + HOUR;
    t.ledger.setAutoUseCredits(true); // books the first write-off
    expect(storedExpiry()).toBe(T0 + 2 * HOUR);
    t.ledger.refundCredits({ grantKey: 'refunded', amount: 200, idempotencyKey: 'r' });
    expect(storedExpiry()).toBe(T0 + 3 * HOUR);
    // Each step from here in a new process (a CLI run), which knows the expiry only from the stored row.
    t.clock.now = T0 + 3 * HOUR;
    expect(t.reopen().status().credits.balance).toBe(0);
    t.reopen().setAutoUseCredits(true);
    expect(query("SELECT amount, grant_id FROM credit_events WHERE kind = 'expire' ORDER BY id")).toEqual([
      { amount: 100, grant_id: 1 },
      { amount: 400, grant_id: 3 },
    ]);
    expect(storedExpiry()).toBeNull();
  });

  it('stores the earliest expiry of a grant with credit left, and none for grants that never expire or arrive spent', () => {
    t = openTemp({ initialPlan: 'free' });
    const storedExpiry = (): unknown => (query('SELECT next_expiry FROM account')[0] as { next_expiry: number | null }).next_expiry;
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'forever', source: 'purchase' });
    expect(storedExpiry()).toBeNull();
    charge(400); // 300 of debt
    t.ledger.addCredits({ amount: 300, idempotencyKey: 'repays', source: 'promo', expiresAt: T0 + HOUR });
    expect(storedExpiry()).toBeNull(); // wholly taken by the debt: nothing of it can expire
    t.ledger.addCredits({ amount: 50, idempotencyKey: 'late', source: 'promo', expiresAt: T0 + 3 * HOUR });
    expect(storedExpiry()).toBe(T0 + 3 * HOUR);
    t.ledger.addCredits({ amount: 50, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + 2 * HOUR });
    expect(storedExpiry()).toBe(T0 + 2 * HOUR);
    t.ledger.addCredits({ amount: 50, idempotencyKey: 'later', source: 'promo', expiresAt: T0 + 4 * HOUR });
    expect(storedExpiry()).toBe(T0 + 2 * HOUR);
    t.ledger.addCredits({ amount: 50, idempotencyKey: 'never', source: 'purchase' });
    expect(storedExpiry()).toBe(T0 + 2 * HOUR);
  });

  it('writes off a grant at the very millisecond it expires, so a charge then is paid by the next grant', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'forever', source: 'purchase' });
    t.clock.now = T0 + HOUR;
    charge(50);
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.remaining])).toEqual([
      ['soon', 0],
      ['forever', 0.00095],
    ]);
    expect(query("SELECT ts, amount, grant_id FROM credit_events WHERE kind = 'expire'")).toEqual([{ ts: T0 + HOUR, amount: 100, grant_id: 1 }]);
    expect(t.ledger.status().credits.balance).toBe(0.00095);
  });

  it('stores no next expiry once the only expiring grant was spent before it expired', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'forever', source: 'purchase' });
    charge(100); // spends the expiring grant to the last micro-credit
    t.clock.now = T0 + 2 * HOUR;
    charge(10); // nothing left to write off; the stored expiry is cleared, not kept in the past
    expect(query('SELECT next_expiry FROM account')).toEqual([{ next_expiry: null }]);
    expect(query("SELECT count(*) AS n FROM credit_events WHERE kind = 'expire'")).toEqual([{ n: 0 }]);
  });

  it('names a stored purchase without expiry when a key is reused on other terms', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'order', source: 'purchase' });
    expect(() => t.ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'order', source: 'purchase', expiresAt: T0 + HOUR })).toThrow(
      'idempotency key "order" was already used for a different purchase (grant #1: 1 credits, purchase, no expiry; ' +
        'this one: 1 credits, purchase, expires 2026-11-03T10:00:00.000Z); use a new key for a new purchase',
    );
  });
});

describe('auto-reload', () => {
  it('buys only after a post that spent credits, and never buys nothing', () => {
    t = openTemp(); // tiny plan: 1,000 micro-credits of 5h allowance
    t.ledger.addCredits({ amount: 500, idempotencyKey: 'seed', source: 'purchase' });
    t.ledger.setAutoReload({ threshold: 1_000, target: 3_000, maxPerMonth: 5 });
    charge(100); // on the plan: the balance, already below the threshold, was not touched
    expect(t.ledger.grants()).toHaveLength(1);
    charge(950); // 900 on the plan, 50 on credits: 450 left, so 2,550 are bought
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.amount])).toEqual([
      ['seed', 0.0005],
      ['auto-reload:2026-11:1', 0.00255],
    ]);
    charge(100); // on credits, leaving 2,900: above the threshold, nothing to buy
    expect(t.ledger.grants()).toHaveLength(2);
    expect(t.ledger.status().credits.balance).toBe(0.0029);
  });
});

describe('the credit log', () => {
  it('takes a refund from its own grant first, then in spending order, and the rest as debt that blocks', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 300, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'order-1', source: 'purchase' });
    const usageId = charge(600); // 300 from the promo (it expires first), 300 from the purchase
    const refunded = t.ledger.refundCredits({ grantKey: 'order-1', amount: 1_000, idempotencyKey: 'refund-1' });
    expect(refunded).toEqual({ refundId: 1, duplicate: false });
    // Its own 700 left first; the 300 already spent of it become debt: no other grant has credit left.
    expect(query('SELECT kind, amount, grant_id, usage_id, refund_id FROM credit_events ORDER BY id')).toEqual([
      { kind: 'spend', amount: 300, grant_id: 1, usage_id: usageId, refund_id: null },
      { kind: 'spend', amount: 300, grant_id: 2, usage_id: usageId, refund_id: null },
      { kind: 'spend', amount: 700, grant_id: 2, usage_id: null, refund_id: 1 },
      { kind: 'debt', amount: 300, grant_id: null, usage_id: null, refund_id: 1 },
    ]);
    expect(query('SELECT id, remaining, refunded FROM grants ORDER BY id')).toEqual([
      { id: 1, remaining: 0, refunded: 0 },
      { id: 2, remaining: 0, refunded: 1_000 },
    ]);
    expect(t.ledger.status().credits.balance).toBe(-0.0003);
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: false, reason: 'no_credits' });
    // The same refund again takes nothing; more than was bought is refused.
    expect(t.ledger.refundCredits({ grantKey: 'order-1', amount: 1_000, idempotencyKey: 'refund-1' })).toEqual({ refundId: 1, duplicate: true });
    expect(() => t.ledger.refundCredits({ grantKey: 'order-1', amount: 1, idempotencyKey: 'refund-2' })).toThrow(
      'grant #2 has 0 credits left to refund, not 0.000001',
    );
    expect(() => t.ledger.refundCredits({ grantKey: 'order-1', amount: 5, idempotencyKey: 'refund-1' })).toThrow(
      new LedgerError(
        'idempotency_conflict',
        'idempotency key "refund-1" was already used for another refund (#1: 0.001 credits of grant #2); use a new key for a new refund',
      ),
    );
    // The next grant repays the debt first; the books balance throughout.
    t.ledger.addCredits({ amount: 500, idempotencyKey: 'order-2', source: 'purchase' });
    expect(t.ledger.status().credits.balance).toBe(0.0002);
    expect(t.ledger.admit(request(1))).toMatchObject({ admitted: true });
    expect(t.ledger.checkBooks()).toEqual([]);
    expect(t.ledger.audit().map((a) => a.action)).toContain('credits_refunded');
  });

  it('takes a refund from other grants before running into debt, leaving the refunded grant spent', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'order-1', source: 'purchase' });
    charge(800);
    t.ledger.addCredits({ amount: 2_000, idempotencyKey: 'order-2', source: 'purchase' });
    t.ledger.refundCredits({ grantKey: 'order-1', amount: 600, idempotencyKey: 'refund-1' });
    expect(query('SELECT kind, amount, grant_id FROM credit_events WHERE refund_id = 1 ORDER BY id')).toEqual([
      { kind: 'spend', amount: 200, grant_id: 1 },
      { kind: 'spend', amount: 400, grant_id: 2 },
    ]);
    expect(t.ledger.grants().map((g) => g.remaining)).toEqual([0, 0.0016]);
    expect(t.ledger.status().credits.balance).toBe(0.0016);
    expect(t.ledger.checkBooks()).toEqual([]);
  });

  it('takes a refund from the refunded purchase even when another grant is spent first', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 500, idempotencyKey: 'promo', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'order-1', source: 'purchase' });
    t.ledger.refundCredits({ grantKey: 'order-1', amount: 300, idempotencyKey: 'refund-1' });
    // The promo is first in spending order, but the credits that money bought are the purchase's.
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.remaining])).toEqual([
      ['promo', 0.0005],
      ['order-1', 0.0007],
    ]);
    expect(t.ledger.checkBooks()).toEqual([]);
  });

  it('refuses a refund of a grant it does not know', () => {
    t = openTemp({ initialPlan: 'free' });
    expect(() => t.ledger.refundCredits({ grantKey: 'nope', amount: 1, idempotencyKey: 'r' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument', message: 'no grant was added with idempotency key "nope"' }),
    );
    expect(() => t.ledger.refundCredits({ grantKey: 'nope', amount: 0, idempotencyKey: 'r' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('keeps a voided hold in the log, and the books notice a hold settled twice', () => {
    t = openTemp();
    const a = t.ledger.admit({ ...request(250), client: 'codex' });
    if (!a.admitted) throw new Error('expected an admission');
    t.clock.advance(1_000);
    t.ledger.void(a.holdId);
    expect(query('SELECT id, ts, voided_at, client, kind, estimate FROM voided_holds')).toEqual([
      { id: a.holdId, ts: T0, voided_at: T0 + 1_000, client: 'codex', kind: 'plan', estimate: 250 },
    ]);
    expect(t.ledger.checkBooks()).toEqual([]);
    const db = new Database(t.path);
    db.prepare(
      `INSERT INTO usage (ts, hold_id, request_id, client, feature, model, route, status, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens, reasoning_tokens, cost, plan_cost, credit_cost, estimated) VALUES (?, ?, 'r', 'codex', 'assistant',
        'gpt-5', '/v1/responses', 200, 0, 0, 0, 0, 0, 0, 0, 0, 0)`,
    ).run(T0 + 2_000, a.holdId);
    db.close();
    expect(t.ledger.checkBooks()).toEqual(['1 hold(s) settled or voided more than once, or still open after being settled']);
  });
});
