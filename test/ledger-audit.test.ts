/**
 * The audit trail: every change to the account that is not a metered request leaves one row saying
 * who did it, when, and what changed (from what, to what). A repeat that changes nothing leaves none.
 * The window history (window_periods) records how each period ended.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { TempLedger } from './fixtures/ledger-setup';
import { FIVE_HOURS, HOUR, T0, WEEK, openTemp, request, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
const iso = (ms: number): string => new Date(ms).toISOString();
afterEach(() => t?.cleanup());

const trail = (): unknown[] => t.ledger.audit(1_000).map(({ ts, actor, action, detail }) => ({ ts, actor, action, detail }));

function admitted(estimate: number): number {
  const a = t.ledger.admit(request(estimate));
  if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
  return a.holdId;
}

describe('the audit trail', () => {
  it('records a purchase once, with its grant, amount and source; a repeated key adds no row', () => {
    t = openTemp({ initialPlan: 'free' });
    t.clock.advance(5);
    const { grantId } = t.ledger.addCredits({ amount: 2_500, idempotencyKey: 'order-7', source: 'refund' }, 'billing');
    t.ledger.addCredits({ amount: 2_500, idempotencyKey: 'order-7', source: 'refund' }, 'billing');
    expect(trail().slice(-1)).toEqual([{ ts: iso(T0 + 5), actor: 'billing', action: 'credits_added', detail: { grantId, amount: 2_500, source: 'refund' } }]);
    expect(trail().filter((row) => (row as { action: string }).action === 'credits_added')).toHaveLength(1);
  });

  it('records each setting change from what to what, by whom', () => {
    t = openTemp();
    const before = trail().length;
    t.ledger.setPlan('pro', 'alice');
    t.ledger.setAutoUseCredits(false, 'bob');
    t.ledger.setAutoReload({ threshold: 10, target: 20, maxPerMonth: 1 }, 'carol');
    t.ledger.setAutoReload(null, 'dave');
    expect(trail().slice(before)).toEqual([
      { ts: iso(T0), actor: 'alice', action: 'plan_set', detail: { from: 'tiny', to: 'pro' } },
      { ts: iso(T0), actor: 'bob', action: 'auto_use_credits_set', detail: { from: true, to: false } },
      { ts: iso(T0), actor: 'carol', action: 'auto_reload_set', detail: { from: null, to: { threshold: 10, target: 20, maxPerMonth: 1 } } },
      { ts: iso(T0), actor: 'dave', action: 'auto_reload_set', detail: { from: { threshold: 10, target: 20, maxPerMonth: 1 }, to: null } },
    ]);
  });

  it('records a change that names nobody as the local user’s', () => {
    t = openTemp();
    const before = trail().length;
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'k', source: 'purchase' });
    t.ledger.refundCredits({ grantKey: 'k', amount: 40, idempotencyKey: 'r' });
    t.ledger.resetWindows();
    t.ledger.setPlan('pro');
    t.ledger.setAutoUseCredits(false);
    t.ledger.setAutoReload({ threshold: 10, target: 20, maxPerMonth: 1 });
    expect(t.ledger.audit(1_000).slice(before).map((row) => `${row.actor} ${row.action}`)).toEqual([
      'local credits_added',
      'local credits_refunded',
      'local windows_reset',
      'local plan_set',
      'local auto_use_credits_set',
      'local auto_reload_set',
    ]);
  });

  it('records an automatic purchase as the system’s, numbered within the month', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.setAutoReload({ threshold: 1_000, target: 5_000, maxPerMonth: 1 });
    t.ledger.addCredits({ amount: 1_500, idempotencyKey: 'seed', source: 'purchase' });
    t.clock.advance(HOUR);
    t.ledger.post(admitted(10), { usage: unitUsage(600) });
    expect(trail().slice(-1)).toEqual([{ ts: iso(T0 + HOUR), actor: 'system', action: 'auto_reload', detail: { amount: 4_100, reload: 1 } }]);
    // The month's only reload is used: a second drop below the threshold buys and records nothing.
    t.ledger.post(admitted(10), { usage: unitUsage(4_500) });
    expect(trail().filter((row) => (row as { action: string }).action === 'auto_reload')).toHaveLength(1);
    expect(t.ledger.status().credits.balance).toBe(0.0005);
  });

  it('records recovered holds with their count, and nothing when there were none', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    const before = trail().length;
    expect(t.ledger.recover()).toBe(0);
    expect(trail()).toHaveLength(before);
    admitted(5);
    admitted(6);
    admitted(7);
    t.reopen();
    t.clock.advance(HOUR);
    expect(t.ledger.recover()).toBe(3);
    expect(trail().slice(before)).toEqual([{ ts: iso(T0 + HOUR), actor: 'system', action: 'holds_recovered', detail: { count: 3 } }]);
  });

  it('records an issued token by name and role, never the token', () => {
    t = openTemp();
    const token = t.ledger.issueToken('ci', 'admin');
    expect(trail().slice(-1)).toEqual([{ ts: iso(T0), actor: 'local', action: 'token_issued', detail: { name: 'ci', role: 'admin' } }]);
    expect(JSON.stringify(trail())).not.toContain(token);
  });
});

describe('the window history', () => {
  it('closes a reset window at the reset, and one that had already ended at its end', () => {
    t = openTemp();
    t.ledger.post(admitted(10), { usage: unitUsage(400) });
    t.clock.advance(FIVE_HOURS + HOUR); // the 5h period has ended, the weekly one runs on
    t.ledger.resetWindows('admin');
    expect(trail().slice(-1)).toEqual([{ ts: iso(T0 + 6 * HOUR), actor: 'admin', action: 'windows_reset', detail: { closed: ['weekly'] } }]);
    const db = new Database(t.path, { readonly: true });
    try {
      expect(db.prepare('SELECT name, started_at, ends_at, closed_at, close_reason, used FROM window_periods ORDER BY id').all()).toEqual([
        { name: '5h', started_at: T0, ends_at: T0 + FIVE_HOURS, closed_at: T0 + FIVE_HOURS, close_reason: 'expired', used: 400 },
        { name: 'weekly', started_at: T0, ends_at: T0 + WEEK, closed_at: T0 + 6 * HOUR, close_reason: 'reset', used: 400 },
      ]);
    } finally {
      db.close();
    }
    expect(t.ledger.status().windows.map((w) => [w.used, w.resetsAt])).toEqual([
      [0, null],
      [0, null],
    ]);
  });
});
