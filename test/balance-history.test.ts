/**
 * The balance history: a presentation of the credit log (proxy/balanceHistory.ts), and the log query
 * itself on both stores (proxy/ledger/creditLog.ts), which must tell the balance the ledger reports at
 * every moment, whatever grants, expiries, debt, refunds and spending came before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceHistory } from '../proxy/balanceHistory';
import type { CreditLog, CreditMovement } from '../proxy/ledger/creditLog';
import type { BookUnderTest } from './fixtures/ledger-stores';
import { ledgerStoresForTests } from './fixtures/ledger-stores';
import { HOUR, T0, micro, request, unitUsage } from './fixtures/ledger-setup';

const DAY = 24 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();
const log = (movements: CreditMovement[], extra: Partial<CreditLog> = {}): CreditLog => ({ asOf: T0 + 3 * DAY, opening: 0, movements, ...extra });
const grant = (ts: number, credits: number): CreditMovement => ({ ts, change: credits * 1e6, kind: 'purchase' });
const spend = (ts: number, credits: number): CreditMovement => ({ ts, change: -credits * 1e6, kind: 'spending' });
const brief = (points: ReturnType<typeof balanceHistory>) => points.map((p) => [p.ts, p.event, p.change, p.balance]);

describe('balanceHistory', () => {
  it('has no history without a movement or an opening balance', () => {
    expect(balanceHistory(log([]))).toEqual([]);
    expect(brief(balanceHistory(log([], { opening: 5e6 }), { since: T0 }))).toEqual([
      [iso(T0), 'start', 0, 5],
      [iso(T0 + 3 * DAY), 'now', 0, 5],
    ]);
  });

  it('adds a point per grant and one per day of spending, at the day’s last charge, then now', () => {
    const points = balanceHistory(
      log([grant(T0, 100), spend(T0 + HOUR, 1.5), spend(T0 + 3 * HOUR, 2.25), spend(T0 + DAY, 10), { ts: T0 + 2 * DAY, change: 50e6, kind: 'promo' }]),
    );
    expect(brief(points)).toEqual([
      [iso(T0), 'purchase', 100, 100],
      [iso(T0 + 3 * HOUR), 'spending', -3.75, 96.25],
      [iso(T0 + DAY), 'spending', -10, 86.25],
      [iso(T0 + 2 * DAY), 'promo', 50, 136.25],
      [iso(T0 + 3 * DAY), 'now', 0, 136.25],
    ]);
  });

  it('splits a day’s spending around a grant, an expiry or a refund that day, so every point is exact', () => {
    const points = balanceHistory(
      log([
        grant(T0, 10),
        spend(T0 + HOUR, 1),
        grant(T0 + 2 * HOUR, 5),
        spend(T0 + 3 * HOUR, 2),
        { ts: T0 + 4 * HOUR, change: -1e6, kind: 'expiry' },
        spend(T0 + 5 * HOUR, 1),
        { ts: T0 + 6 * HOUR, change: -5e6, kind: 'purchase_refunded' },
      ]),
    );
    expect(points.map((p) => [p.event, p.balance])).toEqual([
      ['purchase', 10],
      ['spending', 9],
      ['purchase', 14],
      ['spending', 12],
      ['expiry', 11],
      ['spending', 10],
      ['purchase_refunded', 5],
      ['now', 5],
    ]);
  });

  it('groups spending by the calendar days of the given time zone', () => {
    // T0 is 09:00 UTC = 04:00 in New York: 01:00 UTC the next day is still the same New York day.
    const movements = [grant(T0 - HOUR, 10), spend(T0, 1), spend(T0 + 16 * HOUR, 2)];
    const spending = (timeZone?: string): number[] =>
      balanceHistory(log(movements), { timeZone })
        .filter((p) => p.event === 'spending')
        .map((p) => p.change);
    expect(spending()).toEqual([-1, -2]);
    expect(spending('America/New_York')).toEqual([-3]);
  });

  it('opens a range at its opening balance and never ends before the last movement', () => {
    const points = balanceHistory(log([spend(T0 + 2 * DAY, 5)], { opening: 90e6, asOf: T0 + DAY }), { since: T0 + DAY });
    expect(brief(points)).toEqual([
      [iso(T0 + DAY), 'start', 0, 90],
      [iso(T0 + 2 * DAY), 'spending', -5, 85],
      [iso(T0 + 2 * DAY), 'now', 0, 85],
    ]);
  });

  it('adds six-decimal amounts exactly', () => {
    const movements = [grant(T0 - 1, 0.3), ...Array.from({ length: 10 }, (_, i) => spend(T0 + i * 60_000, 0.1))];
    expect(balanceHistory(log(movements)).at(-1)?.balance).toBe(-0.7);
  });
});

const stores = ledgerStoresForTests();
let t: BookUnderTest | undefined;

describe.each(stores.kinds)('the credit log on %s', (kind) => {
  it('shows a debt repaid by the next grant and only the rest of that grant expiring, as the ledger booked them', async () => {
    // The free plan has no allowance: with auto-use on, every charge is on credits (debt if none).
    t = await stores.open(kind, { initialPlan: 'free', initialAutoUseCredits: true });
    const book = t.book;
    await book.addCredits({ amount: 1_000_000, idempotencyKey: 'a', source: 'purchase' });
    t.clock.advance(HOUR);
    const admission = await book.admit(request(1));
    if (!admission.admitted) throw new Error('expected an admission');
    await book.post(admission.holdId, { usage: unitUsage(3_000_000) });
    t.clock.advance(HOUR);
    await book.addCredits({ amount: 5_000_000, idempotencyKey: 'b', source: 'promo', expiresAt: t.clock.now + DAY });
    t.clock.advance(2 * DAY);
    // The expiry is due but not booked until the next write: the log shows it already, at its time.
    const history = balanceHistory(await book.creditLog());
    expect(history.map((p) => [p.event, p.change, p.balance])).toEqual([
      ['purchase', 1, 1],
      ['spending', -3, -2],
      ['promo', 5, 3],
      ['expiry', -3, 0],
      ['now', 0, 0],
    ]);
    expect(history.at(-1)!.balance).toBe((await book.status()).credits.balance);
    await book.setAutoUseCredits(true); // books the expiry: the same history
    expect(balanceHistory(await book.creditLog())).toEqual(history);
  });

  type Step =
    | { kind: 'grant'; amount: number; expiresIn: number | null }
    | { kind: 'spend'; cost: number }
    | { kind: 'refund'; grant: number; amount: number }
    | { kind: 'wait'; ms: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('grant' as const), amount: fc.integer({ min: 1, max: 500 }), expiresIn: fc.option(fc.integer({ min: 1, max: 3 * DAY })) }),
    fc.record({ kind: fc.constant('spend' as const), cost: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ kind: fc.constant('refund' as const), grant: fc.nat(), amount: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: DAY }) }),
  );

  it('tells, from any moment on, the balance the ledger reported then and reports now', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.nat(), async (steps, pick) => {
        t = await stores.open(kind, { initialPlan: 'free', initialAutoUseCredits: true });
        const { book, clock } = t;
        const grants: { key: string; amount: number; refunded: number }[] = [];
        /** The balance just before each moment a step ends at, as [time, balance in µcr]. */
        const seen: [number, number][] = [];
        for (const s of steps) {
          if (s.kind === 'wait') clock.advance(s.ms);
          else if (s.kind === 'grant') {
            const key = `g${grants.length}`;
            await book.addCredits({ amount: s.amount, idempotencyKey: key, source: 'purchase', expiresAt: s.expiresIn === null ? null : clock.now + s.expiresIn });
            grants.push({ key, amount: s.amount, refunded: 0 });
          } else if (s.kind === 'refund') {
            const target = grants[s.grant % Math.max(1, grants.length)];
            if (target && target.refunded + s.amount <= target.amount) {
              await book.refundCredits({ grantKey: target.key, amount: s.amount, idempotencyKey: `r${seen.length}` });
              target.refunded += s.amount;
            }
          } else {
            const admission = await book.admit(request(1));
            // Blocked (no usable credits): no charge happens.
            if (admission.admitted) await book.post(admission.holdId, { usage: unitUsage(s.cost) });
          }
          // The balance after this step's rows, read before the clock moves on: a grant expiring at the
          // next moment (the range's start) is still in it, as in the log's opening balance (the balance
          // just before `since`).
          const after = micro((await book.status()).credits.balance);
          clock.advance(1);
          seen.push([clock.now, after]);
        }
        const history = balanceHistory(await book.creditLog());
        const balance = (await book.status()).credits.balance;
        if (history.length === 0) expect(balance).toBe(0);
        else expect(history.at(-1)!.balance).toBe(balance);
        // From a moment in the middle (before the next step's rows): the range opens at the balance reported then.
        const [since, then] = seen[pick % seen.length]!;
        const range = balanceHistory(await book.creditLog(since), { since });
        if (range.length > 0) {
          expect(range[0]).toMatchObject({ event: 'start', balance: then / 1e6 });
          expect(range.at(-1)!.balance).toBe(balance);
        } else {
          expect(then).toBe(0);
        }
      }),
      { numRuns: kind === 'postgres' ? 15 : 40 },
    );
  }, 600_000);
});
