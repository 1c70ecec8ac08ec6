/**
 * One ledger connection among others on the same file: the options it opens with, what it does while
 * another connection holds the write lock, how it notices other connections' commits, and what it
 * keeps in memory between transactions (and drops when a transaction fails).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerStorageError } from '../proxy/ledger/ledger';
import type { TempLedger } from './fixtures/ledger-setup';
import { DEFAULT_BUSY_TIMEOUT_MS } from '../proxy/ledger/connection';
import { HOUR, RATE_CARD, T0, openTemp, request, tempDir, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
afterEach(() => t?.cleanup());

function post(cost: number, ledger = t.ledger): number {
  const a = ledger.admit(request(1));
  if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
  return ledger.post(a.holdId, { usage: unitUsage(cost) }).usageId;
}

/** Runs `work` with another connection holding the write lock (as a long transaction elsewhere would). */
function whileLocked<T>(path: string, work: () => T): T {
  const other = new Database(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    return work();
  } finally {
    other.exec('ROLLBACK');
    other.close();
  }
}

/** A commit by another connection that changes no total (the ledger must notice it, not misread it). */
function foreignCommit(path: string): void {
  const other = new Database(path);
  other.prepare("INSERT INTO audit (ts, actor, action, detail) VALUES (0, 'other', 'poke', '{}')").run();
  other.close();
}

describe('opening', () => {
  it('runs the built-in plans, starting on plus, when given none', () => {
    const dir = tempDir();
    const ledger = Ledger.open({ path: join(dir, 'ledger.db'), rateCard: RATE_CARD });
    try {
      const status = ledger.status();
      expect(status.plan).toBe('plus');
      expect(status.planWarning).toBeUndefined();
      expect(status.windows.map((w) => [w.name, w.limit])).toEqual([
        ['5h', 50],
        ['weekly', 250],
      ]);
    } finally {
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file it is on and how long a write waits for a lock: the one given, else the default', () => {
    t = openTemp();
    expect(t.ledger.databasePath).toBe(t.path);
    expect(t.ledger.busyTimeoutMs).toBe(DEFAULT_BUSY_TIMEOUT_MS);
    expect(t.reopen({ busyTimeoutMs: 250 }).busyTimeoutMs).toBe(250);
    t.ledger.setBusyTimeout(40);
    expect(t.ledger.busyTimeoutMs).toBe(40);
  });

  it('keeps every setting, and stores no auto-reload as NULL, across a reopen', () => {
    t = openTemp();
    const settings = { threshold: 1_000, target: 5_000, maxPerMonth: 2 };
    t.ledger.setAutoReload(settings);
    t.ledger.setAutoUseCredits(false);
    t.ledger.setPlan('pro');
    t.reopen();
    expect(t.ledger.getAutoReload()).toEqual(settings);
    expect(t.ledger.status()).toMatchObject({ plan: 'pro', autoUseCredits: false });
    t.ledger.setAutoReload(null);
    t.reopen();
    expect(t.ledger.getAutoReload()).toBeNull();
    const raw = new Database(t.path, { readonly: true });
    try {
      expect(raw.prepare('SELECT auto_reload FROM account').get()).toEqual({ auto_reload: null });
    } finally {
      raw.close();
    }
  });
});

describe('another connection’s write lock', () => {
  it('makes a write give up as busy, then writes work again once it is released', () => {
    t = openTemp({ busyTimeoutMs: 100 });
    const error = whileLocked(t.path, () => {
      try {
        t.ledger.admit(request(1));
      } catch (caught) {
        return caught;
      }
      return null;
    });
    expect(error).toBeInstanceOf(LedgerStorageError);
    expect(error).toMatchObject({ problem: 'busy' });
    expect(t.ledger.admit(request(1)).admitted).toBe(true);
  });

  it('makes a write wait for the time it was opened with, or set to later, not the default', () => {
    /** How long a write waited before giving up as busy, in ms. */
    const waited = (): number =>
      whileLocked(t.path, () => {
        const started = performance.now();
        expect(() => t.ledger.admit(request(1))).toThrow(expect.objectContaining({ problem: 'busy' }));
        return performance.now() - started;
      });
    t = openTemp();
    t.ledger.setBusyTimeout(150);
    const set = waited();
    expect(set).toBeGreaterThanOrEqual(100);
    expect(set).toBeLessThan(DEFAULT_BUSY_TIMEOUT_MS / 2);
    t.reopen({ busyTimeoutMs: 150 });
    const opened = waited();
    expect(opened).toBeGreaterThanOrEqual(100);
    expect(opened).toBeLessThan(DEFAULT_BUSY_TIMEOUT_MS / 2);
  });

  it('does not stop reads: status, limits and reports answer while it is held', () => {
    t = openTemp({ busyTimeoutMs: 100 });
    post(300);
    const [status, limits, rows] = whileLocked(t.path, () => [t.ledger.status(), t.ledger.limits(), t.ledger.usageRows({})] as const);
    expect(status.windows[0]!.used).toBe(0.0003);
    expect(limits.windows['5h'].usedPercent).toBe(30);
    expect(rows).toHaveLength(1);
  });
});

describe('noticing other connections’ commits', () => {
  it('changes dataVersion for one own and one foreign commit between two looks', () => {
    t = openTemp();
    const before = t.ledger.dataVersion();
    t.ledger.addCredits({ amount: 1, idempotencyKey: 'own', source: 'admin' });
    foreignCommit(t.path);
    expect(t.ledger.dataVersion()).not.toBe(before);
  });
});

describe('a failed transaction', () => {
  it('throws, keeps nothing it wrote, and forgets what it cached on the way', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    post(100);
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error('blocked');
    const before = t.ledger.status();
    t.clock.advance(HOUR);
    expect(() =>
      t.ledger.batch(() => {
        t.ledger.post(a.holdId, { usage: unitUsage(2_000) });
        t.ledger.addCredits({ amount: 5, idempotencyKey: 'inside', source: 'promo' });
        throw new Error('the commit failed');
      }),
    ).toThrow('the commit failed');
    t.clock.advance(-HOUR);
    // The same figures, the same last charge, the hold still pending.
    expect(t.ledger.status()).toEqual(before);
    expect(t.ledger.grants()).toHaveLength(1);
    expect(t.ledger.post(a.holdId, { usage: unitUsage(1) }).cost).toBe(1);
  });
});

describe('the tail kept in memory', () => {
  it('is read at open from the newest 5,000 usage rows, not from the whole history', () => {
    t = openTemp();
    const raw = new Database(t.path);
    raw.exec(`
      INSERT INTO usage (ts, hold_id, request_id, client, feature, model, route, status, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens, reasoning_tokens, cost, plan_cost, credit_cost, estimated)
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
      SELECT ${T0}, 1000 + i, 'r' || i, 'test', 'assistant', CASE i WHEN 0 THEN 'retired' ELSE 'unit' END, '/v1/responses', 200,
        0, 0, 0, 10 + i, 0, 0, 0, 0, 0 FROM n`);
    raw.close();
    // The connection that was open meanwhile folds in every new row, the retired model's too.
    expect(t.ledger.recentOutputTokens('retired')).toEqual([10]);
    t.reopen();
    expect(t.ledger.recentOutputTokens('unit', 2)).toEqual([5010, 5009]);
    expect(t.ledger.recentOutputTokens('retired')).toEqual([]);
  });
});

describe('a failed write', () => {
  it('forgets the expiry it booked before failing, so the next write books it again', () => {
    t = openTemp({ initialPlan: 'free' });
    t.ledger.addCredits({ amount: 100, idempotencyKey: 'soon', source: 'promo', expiresAt: T0 + HOUR });
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'forever', source: 'purchase' });
    t.clock.now = T0 + HOUR;
    // The write books the due expiry in memory first, then fails on the unknown grant: all rolled back.
    expect(() => t.ledger.refundCredits({ grantKey: 'nope', amount: 1, idempotencyKey: 'r' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(t.ledger.status().credits.balance).toBe(0.001);
    t.ledger.setAutoUseCredits(true);
    expect(t.ledger.grants().map((g) => [g.idempotencyKey, g.remaining])).toEqual([
      ['soon', 0],
      ['forever', 0.001],
    ]);
    expect(t.ledger.checkBooks()).toEqual([]);
  });
});

describe('a ledger that cannot read', () => {
  it('throws from every read once closed, rather than answering from memory', () => {
    t = openTemp();
    post(5);
    const ledger = t.ledger;
    ledger.close();
    expect(() => ledger.getAutoReload()).toThrow(/not open/);
    expect(() => ledger.recentOutputTokens('unit')).toThrow(/not open/);
    t.reopen();
  });

  it('names a missing account row', () => {
    t = openTemp();
    const raw = new Database(t.path);
    raw.prepare('DELETE FROM account').run();
    raw.close();
    expect(() => t.ledger.status()).toThrow(new Error('ledger account row is missing'));
  });
});
