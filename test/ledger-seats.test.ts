/**
 * Seats on the team ledger (docs/product.md §8): each seat's own windows on one shared pool, and each seat's
 * overflow policy: whether it may go on spending the pool once its windows are used up, and a weekly
 * cap on what it spends there. A seat at its cap is blocked; the others are not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLedger } from '../proxy/ledger/postgres/postgresLedger';
import type { PostgresServer } from './helpers/postgres';
import { startPostgres } from './helpers/postgres';
import { RATE_CARD, TEST_PLANS, TestClock, WEEK, request, unitUsage } from './fixtures/ledger-setup';

let server: PostgresServer;
let ledger: PostgresLedger | null = null;
let clock: TestClock;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server.close());
afterEach(async () => {
  await ledger?.close();
  ledger = null;
});

async function openLedger(): Promise<PostgresLedger> {
  clock = new TestClock();
  const url = await server.createDatabase();
  ledger = await PostgresLedger.open({ url, rateCard: RATE_CARD, plans: TEST_PLANS, initialPlan: 'tiny', clock: clock.read, monotonicClock: clock.monotonic });
  return ledger;
}

const onSeat = (seat: string, estimate: number) => ({ ...request(estimate), seat });

describe('seats on a team ledger', () => {
  it('keeps each seat to its own windows while all of them spend one pool', async () => {
    const l = await openLedger();
    await l.addSeat('alice', 'tiny');
    await l.addSeat('bob', 'tiny');
    await l.addCredits({ amount: 5_000, idempotencyKey: 'pool', source: 'purchase' });
    // alice uses up her 5h window (1,000) and goes on to the pool; bob's windows are untouched.
    const first = await l.admit(onSeat('alice', 900));
    expect(first).toMatchObject({ admitted: true, state: 'plan' });
    await l.post((first as { holdId: number }).holdId, { usage: unitUsage(1_000) });
    const second = await l.admit(onSeat('alice', 100));
    expect(second).toMatchObject({ admitted: true, state: 'credits' });
    await l.post((second as { holdId: number }).holdId, { usage: unitUsage(400) });
    expect(await l.admit(onSeat('bob', 100))).toMatchObject({ admitted: true, state: 'plan' });
    const [alice, bob] = [await l.status('alice'), await l.status('bob')];
    expect(alice.windows[0]!.used).toBe(0.001);
    expect(bob.windows[0]!.used).toBe(0);
    expect(alice.credits.balance).toBe(0.0046);
    expect(bob.credits.balance).toBe(0.0046);
    expect(alice.seat).toBe('alice');
  });

  it("blocks a seat at its weekly cap on the pool, leaves the others alone, and lifts it when the seat's week is over", async () => {
    const l = await openLedger();
    await l.addSeat('alice', 'free');
    await l.addSeat('bob', 'free');
    await l.addCredits({ amount: 1_000_000, idempotencyKey: 'pool', source: 'purchase' });
    await l.setOverflow('alice', { weeklyCap: 1_000 });
    const spend = async (seat: string, estimate: number, actual: number) => {
      const admission = await l.admit(onSeat(seat, estimate));
      if (admission.admitted) await l.post(admission.holdId, { usage: unitUsage(actual) });
      return admission;
    };
    expect(await spend('alice', 600, 600)).toMatchObject({ admitted: true, state: 'credits', spendable: 1_000 });
    // 400 left of the cap: admitted, and the request may cost no more than that.
    expect(await spend('alice', 300, 400)).toMatchObject({ admitted: true, spendable: 400 });
    expect(await spend('alice', 100, 100)).toMatchObject({ admitted: false, reason: 'seat_cap' });
    expect((await l.status('alice')).state).toBe('blocked');
    expect(await spend('bob', 100, 100)).toMatchObject({ admitted: true, state: 'credits' });
    clock.advance(WEEK);
    expect(await spend('alice', 100, 100)).toMatchObject({ admitted: true, state: 'credits' });
    // Removing the cap lifts it at once.
    await l.setOverflow('alice', { weeklyCap: null });
    expect(await spend('alice', 5_000, 5_000)).toMatchObject({ admitted: true });
    const audit = (await l.audit()).map((row) => row.action);
    expect(audit.filter((action) => action === 'seat_cap_set')).toHaveLength(2);
  });

  it('stops a seat at its windows when it may not continue on the pool', async () => {
    const l = await openLedger();
    await l.addSeat('alice', 'tiny');
    await l.addCredits({ amount: 1_000_000, idempotencyKey: 'pool', source: 'purchase' });
    await l.setOverflow('alice', { continueOnPool: false });
    const first = await l.admit(onSeat('alice', 500));
    expect(first).toMatchObject({ admitted: true, state: 'plan' });
    await l.post((first as { holdId: number }).holdId, { usage: unitUsage(1_000) });
    expect(await l.admit(onSeat('alice', 100))).toMatchObject({ admitted: false, reason: 'auto_use_off' });
    // The default seat's own setting is untouched.
    expect((await l.status()).autoUseCredits).toBe(true);
  });

  it('refuses bad seat names, unknown and removed seats, and the default seat removed', async () => {
    const l = await openLedger();
    await expect(l.addSeat('__proto__ ', undefined)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(l.addSeat('a/b', undefined)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(l.admit(onSeat('nobody', 10))).rejects.toMatchObject({ code: 'unknown_seat' });
    await l.addSeat('carol', undefined);
    await expect(l.addSeat('carol', undefined)).rejects.toMatchObject({ code: 'invalid_argument' });
    await l.removeSeat('carol');
    await expect(l.admit(onSeat('carol', 10))).rejects.toMatchObject({ code: 'unknown_seat' });
    await expect(l.status('carol')).rejects.toMatchObject({ code: 'unknown_seat' });
    await expect(l.removeSeat('default')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(l.issueToken('x', 'client', 'carol')).rejects.toMatchObject({ code: 'unknown_seat' });
  });
});
