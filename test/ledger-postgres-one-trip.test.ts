/**
 * The PostgreSQL ledger's one-round-trip commit (writeCache.ts): an instance that has been the only
 * writer since its last commit runs the rules on what that commit left and commits in one round trip,
 * and creditgate_commit applies the changes only at the revision they were computed on. Another
 * instance's write, or a command's, sends the batch back to a load, and the result is what the load
 * alone would have given: balance, holds, windows, seats and the recent-usage tail exact.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresLedgerOptions } from '../proxy/ledger/postgres/postgresLedger';
import { PostgresLedger } from '../proxy/ledger/postgres/postgresLedger';
import type { PostgresServer } from './helpers/postgres';
import { startPostgres } from './helpers/postgres';
import { RATE_CARD, TEST_PLANS, TestClock, heldIn, micro, request, unitUsage } from './fixtures/ledger-setup';

let server: PostgresServer;
const open: PostgresLedger[] = [];
let clock: TestClock;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server.close());
afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close();
});

async function openLedger(url: string, options: Partial<PostgresLedgerOptions> = {}): Promise<PostgresLedger> {
  const ledger = await PostgresLedger.open({
    url,
    rateCard: RATE_CARD,
    plans: TEST_PLANS,
    initialPlan: 'tiny', // windows of 1,000 (5h) and 3,000 (weekly) micro-credits
    clock: clock.read,
    monotonicClock: clock.monotonic,
    ...options,
  });
  open.push(ledger);
  return ledger;
}

/** Two instances on one new database; the first tries the one-round-trip commit again at once after another writer. */
async function twoInstances(options: Partial<PostgresLedgerOptions> = { contendedMs: 0 }): Promise<[PostgresLedger, PostgresLedger]> {
  clock = new TestClock();
  const url = await server.createDatabase();
  const a = await openLedger(url, options);
  const b = await openLedger(url);
  // b's open wrote (its initial settings): a's first write finds that out and loads.
  await a.setAutoUseCredits(true);
  return [a, b];
}

async function charge(ledger: PostgresLedger, cost: number, seat?: string): Promise<void> {
  const admission = await ledger.admit({ ...request(cost), ...(seat ? { seat } : {}) });
  if (!admission.admitted) throw new Error(`not admitted: ${admission.reason}`);
  await ledger.post(admission.holdId, { usage: unitUsage(cost) });
}

describe('the one-round-trip commit on PostgreSQL', () => {
  it('is what a lone instance uses after its first transaction, a turn of writes in one round trip', async () => {
    clock = new TestClock();
    const ledger = await openLedger(await server.createDatabase());
    expect(ledger.trips).toEqual({ one: 0, two: 1, wasted: 0 }); // the open loads: nothing was kept yet
    for (const cost of [100, 200, 50]) await charge(ledger, cost);
    expect(ledger.trips).toEqual({ one: 6, two: 1, wasted: 0 });
    const admissions = await Promise.all([ledger.admit(request(10)), ledger.admit(request(20)), ledger.admit(request(30))]);
    expect(ledger.trips).toEqual({ one: 7, two: 1, wasted: 0 });
    await Promise.all(admissions.map((a) => (a.admitted ? ledger.void(a.holdId) : Promise.reject(new Error('blocked')))));
    expect(ledger.trips.one).toBe(8);
    const limits = await ledger.limits();
    expect(limits.windows['5h'].usedPercent).toBe(35);
    expect(await ledger.checkBooks()).toEqual([]);
    // A write that names an idempotency key reads rows nobody keeps: it loads.
    await ledger.addCredits({ amount: micro(2), idempotencyKey: 'k1', source: 'admin' });
    expect(ledger.trips).toEqual({ one: 8, two: 2, wasted: 0 });
    expect((await ledger.limits()).balance).toBe(micro(2));
  });

  it('starts an immediate admission (a stream\'s) at once when nothing is on the wire, not with the rest of the turn', async () => {
    clock = new TestClock();
    const ledger = await openLedger(await server.createDatabase());
    const transactions = (): number => ledger.trips.one + ledger.trips.two;
    const start = transactions();
    // One turn: a stream's admission, then another request's. The first does not wait for the second.
    const [streamed, other] = await Promise.all([ledger.admit(request(10), true), ledger.admit(request(20))]);
    expect(transactions()).toBe(start + 2);
    // The writes queued before an immediate admission go with it: still one transaction for the turn.
    const grouped = await Promise.all([ledger.admit(request(30)), ledger.admit(request(40)), ledger.admit(request(50), true)]);
    expect(transactions()).toBe(start + 3);
    expect(grouped.every((a) => a.admitted)).toBe(true);
    if (!streamed.admitted || !other.admitted) throw new Error('blocked');
    expect(heldIn(await ledger.status())).toEqual({ credits: 0, plan: 150 });
    expect(await ledger.checkBooks()).toEqual([]);
  });

  it("loads again when another instance wrote in between, and ends exactly where loading alone would have", async () => {
    const [a, b] = await twoInstances();
    await charge(a, 300);
    const before = { ...a.trips };
    await b.addCredits({ amount: micro(5), idempotencyKey: 'from-b', source: 'admin' });
    await charge(b, 400);
    const admission = await a.admit(request(200));
    // Its first try found b's writes (nothing applied), then it loaded.
    expect(a.trips).toEqual({ one: before.one, two: before.two + 1, wasted: before.wasted + 1 });
    if (!admission.admitted) throw new Error('blocked');
    expect(admission.state).toBe('plan');
    await a.post(admission.holdId, { usage: unitUsage(250) });
    expect(a.trips.one).toBe(before.one + 1); // alone again
    for (const ledger of [a, b]) {
      const limits = await ledger.limits();
      expect(limits.windows['5h'].usedPercent).toBe(95); // 300 + 400 + 250 of 1,000
      expect([limits.balance, limits.available]).toEqual([micro(5), micro(5)]);
      expect(await ledger.checkBooks()).toEqual([]);
    }
    // A hold b placed and a posts: not one a kept, so it loads, and it is settled once.
    const held = await b.admit(request(20));
    if (!held.admitted) throw new Error('blocked');
    await a.post(held.holdId, { usage: unitUsage(20) });
    await expect(b.post(held.holdId, { usage: unitUsage(20) })).rejects.toMatchObject({ code: 'hold_not_found' });
    expect((await b.limits()).windows['5h'].usedPercent).toBe(97);
  });

  it('runs one batch at a time, each from the state the one before left; a write in between is kept', async () => {
    // One write a batch: two writes of one turn are two transactions.
    const [a, b] = await twoInstances({ contendedMs: 0, maxBatch: 1 });
    await charge(a, 10);
    const before = { ...a.trips };
    const [x, y] = await Promise.all([a.admit(request(10)), a.admit(request(20))]);
    expect(a.trips).toEqual({ ...before, one: before.one + 2 });
    if (!x.admitted || !y.admitted) throw new Error('blocked');
    expect(y.holdId).toBe(x.holdId + 1);
    // b's grant: a's first post finds it (nothing applied) and loads; the second starts from that load.
    await b.addCredits({ amount: micro(3), idempotencyKey: 'from-b', source: 'admin' });
    const wasted = a.trips.wasted;
    await Promise.all([a.post(x.holdId, { usage: unitUsage(10) }), a.post(y.holdId, { usage: unitUsage(20) })]);
    expect(a.trips.wasted).toBe(wasted + 1);
    for (const ledger of [a, b]) {
      const limits = await ledger.limits();
      expect([limits.balance, limits.windows['5h'].usedPercent]).toEqual([micro(3), 4]);
      expect(await ledger.checkBooks()).toEqual([]);
    }
  });

  it('reads its seats and open holds again with a load, so their posts go on in one round trip', async () => {
    const [a, b] = await twoInstances();
    await a.addSeat('carol', undefined);
    const open = await Promise.all([a.admit(request(10)), a.admit({ ...request(20), seat: 'carol' })]);
    await b.setAutoUseCredits(true);
    const before = { ...a.trips };
    await a.admit(request(5)).then((x) => (x.admitted ? a.void(x.holdId) : undefined)); // finds b's write, loads
    for (const x of open) if (x.admitted) await a.post(x.holdId, { usage: unitUsage(5) });
    expect(a.trips).toEqual({ one: before.one + 3, two: before.two + 1, wasted: before.wasted + 1 });
    expect(await a.checkBooks()).toEqual([]);
  });

  it("settles a hold from its own row when a commit not applied had given this instance's request the same id", async () => {
    const [a, b] = await twoInstances();
    await charge(a, 10);
    const theirs = await b.admit({ ...request(300), client: 'from-b' });
    // a's first try numbers its hold as b's (nothing applied), the load after it numbers it anew.
    const mine = await a.admit({ ...request(100), client: 'from-a' });
    if (!theirs.admitted || !mine.admitted) throw new Error('blocked');
    expect(mine.holdId).toBe(theirs.holdId + 1);
    await a.post(theirs.holdId, { usage: unitUsage(30) });
    await a.post(mine.holdId, { usage: unitUsage(20) });
    const rows = await a.usageRows({ afterId: 1 });
    expect(rows.map((row) => row.client).sort()).toEqual(['from-a', 'from-b']);
    expect((await a.limits()).windows['5h'].usedPercent).toBe(6);
    expect(await a.checkBooks()).toEqual([]);
  });

  it('after finding another writer, loads for a while without trying again', async () => {
    const [a, b] = await twoInstances({ contendedMs: 60_000 });
    expect(a.trips.wasted).toBe(1); // its first write found b's open
    const before = { ...a.trips };
    await charge(a, 100);
    await b.setAutoUseCredits(true);
    await charge(a, 100);
    expect(a.trips).toEqual({ one: before.one, two: before.two + 4, wasted: 1 });
    expect((await a.limits()).windows['5h'].usedPercent).toBe(20);
  });

  it('refuses a seat removed by another instance or a command, however warm what it kept', async () => {
    const [a, b] = await twoInstances();
    await a.addSeat('carol', undefined);
    await charge(a, 10, 'carol');
    const open = await a.admit({ ...request(10), seat: 'carol' });
    const one = a.trips.one;
    const voided = await a.admit({ ...request(10), seat: 'carol' });
    if (voided.admitted) await a.void(voided.holdId);
    expect(a.trips.one).toBe(one + 2); // carol is known: one round trip each
    await b.removeSeat('carol');
    await expect(a.admit({ ...request(10), seat: 'carol' })).rejects.toMatchObject({ code: 'unknown_seat' });
    // What a removed seat had open still settles.
    if (!open.admitted) throw new Error('blocked');
    await a.post(open.holdId, { usage: unitUsage(10) });
    // The instance that removes a seat forgets what it kept at once.
    await a.addSeat('dave', undefined);
    await charge(a, 10, 'dave');
    await a.removeSeat('dave');
    const wasted = a.trips.wasted;
    await expect(a.admit({ ...request(10), seat: 'dave' })).rejects.toMatchObject({ code: 'unknown_seat' });
    expect(a.trips.wasted).toBe(wasted);
    expect(await a.checkBooks()).toEqual([]);
  });

  it('keeps the recent-usage tail exact when a commit found another writer: no row of the first try, none of the other instance missed', async () => {
    const [a, b] = await twoInstances();
    await charge(a, 100);
    const pending = await a.admit(request(300));
    if (!pending.admitted) throw new Error('blocked');
    await charge(b, 200);
    const wasted = a.trips.wasted;
    await a.post(pending.holdId, { usage: unitUsage(300) });
    expect(a.trips.wasted).toBe(wasted + 1);
    const status = await a.status();
    expect(status.lastCharge?.cost).toBeCloseTo(0.0003, 10);
    expect(status.burnRatePerHour).toBeCloseTo(0.0006, 10);
    expect(a.recentOutputTokens('unit')).toEqual([300, 200, 100]);
  });
});
