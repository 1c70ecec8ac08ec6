/**
 * What the ledger refuses before it writes anything: estimates, amounts and keys that are not what
 * money needs, unknown sources, plans, holds and models, and auto-reload settings that could not work.
 * Each refusal is a LedgerError with a code the gateway maps to a status, and a message that says
 * what was wrong; none of them leaves a row behind.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AutoReloadSettings } from '../proxy/ledger/autoReload';
import { reloadAmount, reloadKeyPrefix, validateAutoReload } from '../proxy/ledger/autoReload';
import { Ledger, LedgerError } from '../proxy/ledger/ledger';
import type { TempLedger } from './fixtures/ledger-setup';
import { RATE_CARD, T0, TEST_PLANS, openTemp, request, tempDir, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
afterEach(() => t?.cleanup());

function refusal(work: () => unknown): { code: string; message: string } {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    const { code, message } = error as LedgerError;
    return { code, message };
  }
  throw new Error('expected a refusal');
}

/** Everything a refused call could have written. */
function rowCounts(): unknown {
  return { audit: t.ledger.audit(1_000).length, grants: t.ledger.grants().length, usage: t.ledger.usageRows({}).length, status: t.ledger.status() };
}

const KNOWN_PLANS = Object.keys(TEST_PLANS).join(', ');

describe('the ledger refuses', () => {
  it('estimates that are not a whole, non-negative number of micro-credits', () => {
    t = openTemp();
    const before = rowCounts();
    for (const estimate of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(refusal(() => t.ledger.admit(request(estimate)))).toEqual({
        code: 'invalid_argument',
        message: `estimate must be a non-negative integer of micro-credits, got ${estimate}`,
      });
    }
    expect(rowCounts()).toEqual(before);
    expect(t.ledger.admit(request(0)).admitted).toBe(true);
  });

  it('credit amounts that are not a whole, positive number of micro-credits', () => {
    t = openTemp();
    const before = rowCounts();
    for (const amount of [0, -5, 2.5, 2 ** 53]) {
      expect(refusal(() => t.ledger.addCredits({ amount, idempotencyKey: 'k', source: 'purchase' }))).toEqual({
        code: 'invalid_argument',
        message: `amount must be a positive integer of micro-credits, got ${amount}`,
      });
    }
    expect(rowCounts()).toEqual(before);
    expect(t.ledger.addCredits({ amount: 1, idempotencyKey: 'k', source: 'purchase' }).duplicate).toBe(false);
  });

  it('a purchase without a key, from an unknown source, or with an expiry that is not unix ms', () => {
    t = openTemp();
    const before = rowCounts();
    expect(refusal(() => t.ledger.addCredits({ amount: 5, idempotencyKey: '', source: 'purchase' }))).toEqual({ code: 'invalid_argument', message: 'idempotencyKey is required' });
    const gift = { amount: 5, idempotencyKey: 'k', source: 'gift' } as unknown as Parameters<Ledger['addCredits']>[0];
    expect(refusal(() => t.ledger.addCredits(gift))).toEqual({ code: 'invalid_argument', message: 'unknown grant source: gift' });
    expect(refusal(() => t.ledger.addCredits({ amount: 5, idempotencyKey: 'k', source: 'promo', expiresAt: T0 + 0.5 }))).toEqual({
      code: 'invalid_argument',
      message: 'expiresAt must be unix ms',
    });
    expect(rowCounts()).toEqual(before);
    for (const source of ['purchase', 'promo', 'refund', 'admin'] as const) t.ledger.addCredits({ amount: 5, idempotencyKey: source, source, expiresAt: null });
    expect(t.ledger.grants().map((g) => g.source)).toEqual(['purchase', 'promo', 'refund', 'admin']);
  });

  it('unknown plans, naming the known ones, when opening and when choosing', () => {
    const dir = tempDir();
    try {
      expect(refusal(() => Ledger.open({ path: join(dir, 'ledger.db'), rateCard: RATE_CARD, plans: TEST_PLANS, initialPlan: 'platinum' }))).toEqual({
        code: 'unknown_plan',
        message: `unknown plan "platinum"; known plans: ${KNOWN_PLANS}`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    t = openTemp();
    const before = rowCounts();
    expect(refusal(() => t.ledger.setPlan('gold'))).toEqual({ code: 'unknown_plan', message: `unknown plan "gold"; known plans: ${KNOWN_PLANS}` });
    expect(rowCounts()).toEqual(before);
  });

  it('holds that are not pending, and models the rate card cannot price', () => {
    t = openTemp({ initialPlan: 'pro' });
    const a = t.ledger.admit(request(10));
    if (!a.admitted) throw new Error('blocked');
    expect(refusal(() => t.ledger.post(a.holdId, { model: 'mystery', usage: unitUsage(1) }))).toEqual({
      code: 'unknown_model',
      message: 'the rate card has no rate for model "mystery" and no default',
    });
    t.ledger.void(a.holdId);
    const pending = `hold ${a.holdId} is not pending (already posted, voided, or unknown)`;
    expect(refusal(() => t.ledger.void(a.holdId))).toEqual({ code: 'hold_not_found', message: pending });
    expect(refusal(() => t.ledger.post(a.holdId, { usage: unitUsage(1) }))).toEqual({ code: 'hold_not_found', message: pending });
    expect(t.ledger.usageRows({})).toEqual([]);
  });

  it('a token without a client name', () => {
    t = openTemp();
    const before = rowCounts();
    expect(refusal(() => t.ledger.issueToken(''))).toEqual({ code: 'invalid_argument', message: 'a token needs a client name' });
    expect(rowCounts()).toEqual(before);
  });

  it('auto-reload settings that could not work, keeping the ones it had', () => {
    t = openTemp();
    const working = { threshold: 0, target: 1, maxPerMonth: 0 };
    t.ledger.setAutoReload(working);
    const before = rowCounts();
    const cases: [AutoReloadSettings, string][] = [
      [{ threshold: -1, target: 10, maxPerMonth: 1 }, 'auto-reload threshold must be a non-negative integer of micro-credits'],
      [{ threshold: 0.5, target: 10, maxPerMonth: 1 }, 'auto-reload threshold must be a non-negative integer of micro-credits'],
      [{ threshold: 10, target: 10, maxPerMonth: 1 }, 'auto-reload target must be an integer above the threshold'],
      [{ threshold: 10, target: 10.5, maxPerMonth: 1 }, 'auto-reload target must be an integer above the threshold'],
      [{ threshold: 10, target: 20, maxPerMonth: -1 }, 'auto-reload maxPerMonth must be a non-negative integer'],
      [{ threshold: 10, target: 20, maxPerMonth: 1.5 }, 'auto-reload maxPerMonth must be a non-negative integer'],
    ];
    for (const [settings, message] of cases) {
      expect(validateAutoReload(settings)).toBe(message);
      expect(refusal(() => t.ledger.setAutoReload(settings))).toEqual({ code: 'invalid_argument', message });
    }
    expect(rowCounts()).toEqual(before);
    expect(t.ledger.getAutoReload()).toEqual(working);
  });
});

describe('auto-reload arithmetic', () => {
  it('buys up to the target only below the threshold', () => {
    const settings = { threshold: 1_000, target: 5_000, maxPerMonth: 3 };
    expect(reloadAmount(settings, 999)).toBe(4_001);
    expect(reloadAmount(settings, 1_000)).toBe(0);
    expect(reloadAmount(settings, -200)).toBe(5_200);
  });

  it('names the reloads of a month after that month in UTC', () => {
    expect(reloadKeyPrefix(Date.UTC(2026, 10, 30, 23, 59, 59, 999))).toBe('auto-reload:2026-11:');
    expect(reloadKeyPrefix(Date.UTC(2026, 11, 1))).toBe('auto-reload:2026-12:');
  });
});
