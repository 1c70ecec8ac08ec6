import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { balanceHistory, readCreditSpending } from '../proxy/balanceHistory';
import type { GrantRow } from '../shared/protocol';
import type { TempLedger } from './fixtures/ledger-setup';
import { HOUR, T0, openTemp, request, unitUsage } from './fixtures/ledger-setup';

const DAY = 24 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();

function grant(id: number, ts: number, amount: number, extra: Partial<GrantRow> = {}): GrantRow {
  return { id, ts: iso(ts), source: 'purchase', amount, remaining: amount, expiresAt: null, idempotencyKey: `k${id}`, ...extra };
}
const spend = (ts: number, creditCost: number) => ({ ts: iso(ts), creditCost });
const brief = (points: ReturnType<typeof balanceHistory>) => points.map((p) => [p.ts, p.event, p.change, p.balance]);

describe('balanceHistory', () => {
  it('has no history without grants or credit charges', () => {
    expect(balanceHistory([], [spend(T0, 0)], { now: T0 + DAY })).toEqual([]);
  });

  it('adds a point per grant and one per day of spending, at the day’s last charge, then now', () => {
    const points = balanceHistory(
      [grant(1, T0, 100), grant(2, T0 + 2 * DAY, 50, { source: 'promo' })],
      [spend(T0 + HOUR, 1.5), spend(T0 + 2 * HOUR, 0), spend(T0 + 3 * HOUR, 2.25), spend(T0 + DAY, 10)],
      { now: T0 + 3 * DAY },
    );
    expect(brief(points)).toEqual([
      [iso(T0), 'purchase', 100, 100],
      [iso(T0 + 3 * HOUR), 'spending', -3.75, 96.25],
      [iso(T0 + DAY), 'spending', -10, 86.25],
      [iso(T0 + 2 * DAY), 'promo', 50, 136.25],
      [iso(T0 + 3 * DAY), 'now', 0, 136.25],
    ]);
  });

  it('splits a day’s spending around a grant made that day, so every point is exact', () => {
    const points = balanceHistory([grant(1, T0, 10), grant(2, T0 + 2 * HOUR, 5)], [spend(T0 + HOUR, 1), spend(T0 + 3 * HOUR, 2)], {
      now: T0 + 4 * HOUR,
    });
    expect(points.map((p) => [p.event, p.balance])).toEqual([
      ['purchase', 10],
      ['spending', 9],
      ['purchase', 14],
      ['spending', 12],
      ['now', 12],
    ]);
  });

  it('groups spending by the calendar days of the given time zone', () => {
    // T0 is 09:00 UTC = 04:00 in New York: 01:00 UTC the next day is still the same New York day.
    const rows = [spend(T0, 1), spend(T0 + 16 * HOUR, 2)];
    const grants = [grant(1, T0 - HOUR, 10)];
    const utc = balanceHistory(grants, rows, { now: T0 + DAY });
    const newYork = balanceHistory(grants, rows, { now: T0 + DAY, timeZone: 'America/New_York' });
    expect(utc.filter((p) => p.event === 'spending').map((p) => p.change)).toEqual([-1, -2]);
    expect(newYork.filter((p) => p.event === 'spending').map((p) => p.change)).toEqual([-3]);
  });

  it('writes off what is left of an expired grant at its expiry, after spending the soonest-expiring grant first', () => {
    const points = balanceHistory(
      [grant(1, T0, 10), grant(2, T0, 4, { source: 'promo', expiresAt: iso(T0 + DAY) })],
      [spend(T0 + HOUR, 3)],
      { now: T0 + 2 * DAY },
    );
    // The promo (expiring) grant pays the 3 credits; its last credit expires, the purchase is untouched.
    expect(brief(points).slice(2)).toEqual([
      [iso(T0 + HOUR), 'spending', -3, 11],
      [iso(T0 + DAY), 'expiry', -1, 10],
      [iso(T0 + 2 * DAY), 'now', 0, 10],
    ]);
  });

  it('carries spending beyond every grant as debt that the next grant repays (nothing of it expires)', () => {
    const points = balanceHistory(
      [grant(1, T0, 1), grant(2, T0 + 2 * HOUR, 5, { expiresAt: iso(T0 + DAY) })],
      [spend(T0 + HOUR, 3)],
      { now: T0 + 2 * DAY },
    );
    // Debt 2 is repaid from grant 2, so only 3 of its 5 credits expire.
    expect(points.map((p) => [p.event, p.change, p.balance])).toEqual([
      ['purchase', 1, 1],
      ['spending', -3, -2],
      ['purchase', 5, 3],
      ['expiry', -3, 0],
      ['now', 0, 0],
    ]);
  });

  it('opens a range with the balance at its start and keeps only the events inside it', () => {
    const points = balanceHistory([grant(1, T0, 100)], [spend(T0 + HOUR, 10), spend(T0 + 2 * DAY, 5)], {
      now: T0 + 3 * DAY,
      since: T0 + DAY,
    });
    expect(brief(points)).toEqual([
      [iso(T0 + DAY), 'start', 0, 90],
      [iso(T0 + 2 * DAY), 'spending', -5, 85],
      [iso(T0 + 3 * DAY), 'now', 0, 85],
    ]);
  });

  it('adds six-decimal amounts exactly', () => {
    const rows = Array.from({ length: 10 }, (_, i) => spend(T0 + i * 60_000, 0.1));
    const points = balanceHistory([grant(1, T0 - 1, 0.3)], rows, { now: T0 + HOUR });
    expect(points.at(-1)?.balance).toBe(-0.7);
  });
});

describe('balanceHistory against the ledger', () => {
  let t: TempLedger | undefined;
  afterEach(() => {
    t?.cleanup();
    t = undefined;
  });

  type Step = { kind: 'grant'; amount: number; expiresIn: number | null } | { kind: 'spend'; cost: number } | { kind: 'wait'; ms: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 500 }), expiresIn: fc.option(fc.integer({ min: 1, max: 3 * DAY })) }),
    fc.record({ kind: fc.constant('spend' as const), cost: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: DAY }) }),
  );

  it('ends at the balance the ledger reports, whatever grants, expiries, debt and spending came before', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        t?.cleanup();
        // The free plan has no allowance: with auto-use on, every charge is on credits (debt if none).
        const temp = openTemp({ initialPlan: 'free', initialAutoUseCredits: true });
        t = temp;
        let key = 0;
        for (const s of steps) {
          if (s.kind === 'wait') temp.clock.advance(s.ms);
          else if (s.kind === 'grant') {
            temp.ledger.addCredits({
              amount: s.amount,
              idempotencyKey: `g${key++}`,
              source: 'purchase',
              expiresAt: s.expiresIn === null ? null : temp.clock.now + s.expiresIn,
            });
          } else {
            const admission = temp.ledger.admit(request(1));
            // Blocked (no usable credits): no charge happens.
            if (admission.admitted) temp.ledger.post(admission.holdId, { usage: unitUsage(s.cost) });
          }
          temp.clock.advance(1);
        }
        const now = temp.clock.now;
        const spending = await readCreditSpending(temp.ledger, now);
        const history = balanceHistory(temp.ledger.grants(), spending, { now });
        const balance = temp.ledger.status().credits.balance;
        if (history.length === 0) expect(balance).toBe(0);
        else expect(history.at(-1)!.balance).toBe(balance);
      }),
      { numRuns: 40 },
    );
  });
});
