/**
 * What the ledger reports about the account: the few figures of limits() (the rate-limit headers), a
 * stored plan the configuration no longer defines, and models priced by the card's default even when
 * a crashed gateway's holds are settled for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TempLedger } from './fixtures/ledger-setup';
import { FIVE_HOURS, RATE_CARD, T0, TEST_PLANS, WEEK, openTemp, request, unitUsage } from './fixtures/ledger-setup';

let t: TempLedger;
afterEach(() => t?.cleanup());

function admitted(estimate: number, model = 'unit'): number {
  const a = t.ledger.admit({ ...request(estimate), model });
  if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
  return a.holdId;
}

describe('limits()', () => {
  it('gives each window’s percentage and end, the balance, and what is available after credit holds', () => {
    t = openTemp();
    t.ledger.addCredits({ amount: 5_000, idempotencyKey: 'k', source: 'purchase' });
    t.ledger.post(admitted(10), { usage: unitUsage(250) }); // 25 % of 5h, 8.33 % of weekly
    t.ledger.post(admitted(10), { usage: unitUsage(750) }); // 5h used up: the next admission is on credits
    admitted(1_200);
    expect(t.ledger.limits()).toEqual({
      plan: 'tiny',
      windows: {
        '5h': { usedPercent: 100, endsAt: T0 + FIVE_HOURS },
        weekly: { usedPercent: 33.33, endsAt: T0 + WEEK },
      },
      balance: 5_000,
      available: 3_800,
    });
  });
});

describe('a stored plan the configuration no longer defines', () => {
  const withRetired = { ...TEST_PLANS, retired: { windows: { '5h': 1, weekly: 2 }, features: ['assistant'] } };

  it('gives no allowance, says so, and runs requests on credits', () => {
    t = openTemp({ plans: withRetired });
    t.ledger.setPlan('retired');
    t.ledger.addCredits({ amount: 1_000, idempotencyKey: 'k', source: 'purchase' });
    t.reopen({ plans: TEST_PLANS });
    const status = t.ledger.status();
    expect(status.plan).toBe('retired');
    expect(status.planWarning).toBe(
      `plan "retired" is not defined (known plans: ${Object.keys(TEST_PLANS).join(', ')}); it gives no allowance, ` +
        'so usage runs on credits until a plan is chosen (creditgate plan set NAME)',
    );
    expect(status.windows.map((w) => [w.name, w.limit, w.used])).toEqual([
      ['5h', 0, 0],
      ['weekly', 0, 0],
    ]);
    expect(status.state).toBe('credits');
    const a = t.ledger.admit(request(10));
    expect(a).toMatchObject({ admitted: true, state: 'credits' });
  });
});

describe('models priced by the card’s default', () => {
  it('are named after a crashed gateway’s holds on them are settled, and listed models are not', () => {
    const card = { ...RATE_CARD, default: { feature: 'assistant', input: 0, output: 1 } };
    t = openTemp({ initialPlan: 'free', rateCard: card });
    t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    admitted(10, 'mystery-model');
    admitted(10, 'unit');
    t.reopen(); // the instance that placed the holds is gone
    expect(t.ledger.status().unpricedModels).toBeUndefined();
    expect(t.ledger.recover()).toBe(2);
    expect(t.ledger.status().unpricedModels).toEqual(['mystery-model']);
  });
});
