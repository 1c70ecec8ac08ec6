/**
 * The burn rate's sliding window (recentUsage.ts): plan costs summed per second, so its memory does
 * not grow with the request rate. A row counts for the hour after it, and for at most one second more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BURN_WINDOW_MS, burnWindowStart, RecentUsage, type BurnSecond } from '../proxy/ledger/recentUsage';
import type { UsageTailRow } from '../proxy/ledger/rows';

const T0 = Date.UTC(2026, 0, 5, 9);

function row(id: number, ts: number, planCost: number): UsageTailRow {
  return { id, ts, holdId: id, feature: 'assistant', planCost, creditCost: 0, model: 'm', client: 'c', cost: planCost, outputTokens: 1, estimated: 0, unpriced: 0 };
}

/** What the database hands a fresh instance: the same rows, summed per second. */
function perSecond(rows: readonly UsageTailRow[]): BurnSecond[] {
  const sums = new Map<number, number>();
  for (const r of rows) if (r.planCost !== 0) sums.set(Math.floor(r.ts / 1000), (sums.get(Math.floor(r.ts / 1000)) ?? 0) + r.planCost);
  return [...sums].sort((a, b) => a[0] - b[0]).map(([second, planCost]) => ({ second, planCost }));
}

describe('RecentUsage burn rate', () => {
  it('counts a row for the hour after it, and drops it within the second after that', () => {
    const recent = new RecentUsage();
    recent.absorb([row(1, T0 + 250, 7), row(2, T0 + 900, 5), row(3, T0 + 1_000, 11)]);
    expect(recent.planBurnLastHour(T0 + BURN_WINDOW_MS)).toBe(23);
    // The first second's last millisecond (T0 + 999) has left the window: both of its rows go together.
    expect(recent.planBurnLastHour(T0 + 999 + BURN_WINDOW_MS)).toBe(11);
    expect(recent.planBurnLastHour(T0 + 1_999 + BURN_WINDOW_MS)).toBe(0);
  });

  it('a fresh instance reads its rows from the first second the live window still counts', () => {
    expect(burnWindowStart(T0 + 999 + BURN_WINDOW_MS)).toBe(T0 + 1_000);
    expect(burnWindowStart(T0 + 998 + BURN_WINDOW_MS)).toBe(T0);
    expect(burnWindowStart(T0 + BURN_WINDOW_MS)).toBe(T0);
  });

  it('ignores rows with no plan cost and rows it has already seen', () => {
    const recent = new RecentUsage();
    recent.absorb([row(1, T0, 0), row(2, T0 + 5, 4)]);
    recent.absorb([row(2, T0 + 5, 4), row(3, T0 + 6, 1)]);
    expect(recent.planBurnLastHour(T0 + 10)).toBe(5);
  });

  it('an older row arriving after a newer one stays in the window at least its hour', () => {
    const recent = new RecentUsage();
    recent.absorb([row(1, T0 + 5_000, 3), row(2, T0 + 2_000, 4)]);
    expect(recent.planBurnLastHour(T0 + 2_000 + BURN_WINDOW_MS - 1)).toBe(7);
    expect(recent.planBurnLastHour(T0 + 5_999 + BURN_WINDOW_MS)).toBe(0);
  });

  it('matches the exact hour up to the rows of its last second, and a fresh seed from the per-second sums agrees', () => {
    const rowsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * BURN_WINDOW_MS }), fc.integer({ min: 0, max: 1_000_000 })), { maxLength: 200 });
    fc.assert(
      fc.property(rowsArb, fc.array(fc.integer({ min: 0, max: 4 * BURN_WINDOW_MS }), { minLength: 1, maxLength: 10 }), (raw, probes) => {
        const rows = raw.map(([offset, cost]) => ({ offset, cost })).sort((a, b) => a.offset - b.offset).map((r, i) => row(i + 1, T0 + r.offset, r.cost));
        const live = new RecentUsage();
        const times = probes.map((p) => T0 + p).sort((a, b) => a - b);
        for (const now of times) {
          // Rows reach the window as they are written: those stamped up to now.
          live.absorb(rows.filter((r) => r.ts <= now));
          const cutoff = now - BURN_WINDOW_MS;
          const exact = rows.filter((r) => r.ts > cutoff && r.ts <= now).reduce((sum, r) => sum + r.planCost, 0);
          const lastSecond = rows.filter((r) => r.ts <= cutoff && r.ts > cutoff - 1_000).reduce((sum, r) => sum + r.planCost, 0);
          const burn = live.planBurnLastHour(now);
          expect(burn).toBeGreaterThanOrEqual(exact);
          expect(burn).toBeLessThanOrEqual(exact + lastSecond);
          // A gateway started now seeds the window from the database's per-second sums.
          const fresh = new RecentUsage();
          fresh.seed([], perSecond(rows.filter((r) => r.ts >= burnWindowStart(now) && r.ts <= now)));
          expect(fresh.planBurnLastHour(now)).toBe(burn);
        }
      }),
    );
  });
});
