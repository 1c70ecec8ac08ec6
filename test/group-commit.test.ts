/**
 * Group commit (proxy/ledger/groupCommit.ts): the writes of one event-loop turn share one transaction,
 * each caller hears of its write only once it is committed, a failing write fails alone, and running a
 * sequence of writes in turns gives exactly the books that running them one by one gives.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../proxy/ledger/groupCommit';
import { Ledger, LedgerError } from '../proxy/ledger/ledger';
import type { TempLedger } from './fixtures/ledger-setup';
import { RATE_CARD, TEST_PLANS, auditDatabase, micro, openTemp, request, unitUsage } from './fixtures/ledger-setup';
import { walCommits } from './fixtures/walCommits';

const temps: TempLedger[] = [];
const readers: Ledger[] = [];
afterEach(() => {
  for (const reader of readers.splice(0)) reader.close();
  for (const t of temps.splice(0)) t.cleanup();
});

function temp(): TempLedger {
  const t = openTemp({ initialPlan: 'free' });
  t.ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'seed', source: 'purchase' });
  temps.push(t);
  return t;
}

/** Another process's view of the same file. */
function observer(t: TempLedger): Ledger {
  const reader = Ledger.open({ path: t.path, rateCard: RATE_CARD, plans: TEST_PLANS, clock: t.clock.read, monotonicClock: t.clock.monotonic });
  readers.push(reader);
  return reader;
}

describe('group commit', () => {
  it('writes the turn in one transaction, visible to others only when every caller is told', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const reader = observer(t);
    const commitsBefore = walCommits(t.path);

    const admissions = Array.from({ length: 5 }, (_, i) => commits.run((ledger) => ledger.admit(request(100 + i))));
    // Queued, not yet written: nobody else can see the holds.
    expect(micro(reader.status().credits.held)).toBe(0);
    const seenByOthersWhenTold: number[] = [];
    for (const admission of admissions) void admission.then(() => seenByOthersWhenTold.push(micro(reader.status().credits.held)));

    const results = await Promise.all(admissions);
    expect(results.every((a) => a.admitted)).toBe(true);
    // Every caller was told after the commit: each saw all five holds already written.
    expect(seenByOthersWhenTold).toEqual(Array(5).fill(100 + 101 + 102 + 103 + 104));
    // One commit for five writes.
    expect(walCommits(t.path) - commitsBefore).toBe(1);
  });

  it('rejects a failing write alone and commits the others of its turn', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const first = await commits.run((ledger) => ledger.admit(request(50)));
    if (!first.admitted) throw new Error('blocked');

    const posted = commits.run((ledger) => ledger.post(first.holdId, { usage: unitUsage(40) }));
    const postedTwice = commits.run((ledger) => ledger.post(first.holdId, { usage: unitUsage(40) }));
    const next = commits.run((ledger) => ledger.admit(request(70)));
    const [a, b, c] = await Promise.allSettled([posted, postedTwice, next]);

    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason).toBeInstanceOf(LedgerError);
    expect(((b as PromiseRejectedResult).reason as LedgerError).code).toBe('hold_not_found');
    expect(c.status).toBe('fulfilled');
    const audit = auditDatabase(t.path);
    expect(audit.usageRows).toBe(1);
    expect(audit.balanceFromRows).toBe(1_000_000 - 40);
    expect(audit.creditHeldFromRows).toBe(70);
  });

  it('runNow() commits at once, with the writes already queued, in one transaction', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const first = await commits.run((ledger) => ledger.admit(request(50)));
    if (!first.admitted) throw new Error('blocked');
    const commitsBefore = walCommits(t.path);

    const posted = commits.run((ledger) => ledger.post(first.holdId, { usage: unitUsage(40) }));
    const postedTwice = commits.run((ledger) => ledger.post(first.holdId, { usage: unitUsage(40) }));
    const now = commits.runNow((ledger) => ledger.admit(request(70)));
    // Written before runNow returned: the queued charge too, not left for the end of the turn.
    const audit = auditDatabase(t.path);
    expect([audit.usageRows, audit.creditHeldFromRows, walCommits(t.path) - commitsBefore]).toEqual([1, 70, 1]);
    const [a, b, c] = await Promise.allSettled([posted, postedTwice, now]);
    expect([a.status, b.status, c.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((b as PromiseRejectedResult).reason as LedgerError).code).toBe('hold_not_found');
    // A write alone is its own transaction, as before.
    await expect(commits.runNow((ledger) => ledger.admit(request(10)))).resolves.toMatchObject({ admitted: true });
    expect(walCommits(t.path) - commitsBefore).toBe(2);
  });

  it('flush() writes what is queued at once (the gateway calls it before the ledger closes)', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const admitted = commits.run((ledger) => ledger.admit(request(30)));
    commits.flush();
    expect(auditDatabase(t.path).creditHeldFromRows).toBe(30);
    await expect(admitted).resolves.toMatchObject({ admitted: true });
  });

  it('keeps the books identical to one write at a time, whatever the turns and failures (property)', async () => {
    type Step = { op: 'admit' | 'post' | 'void' | 'add'; n: number; endTurn: boolean };
    const stepArb: fc.Arbitrary<Step> = fc.record({
      op: fc.constantFrom('admit' as const, 'admit' as const, 'post' as const, 'post' as const, 'void' as const, 'add' as const),
      n: fc.integer({ min: 0, max: 5_000 }),
      endTurn: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const direct = openTemp({ initialPlan: 'tiny' });
        const grouped = openTemp({ initialPlan: 'tiny' });
        try {
          const commits = new GroupCommit(grouped.ledger);
          // Hold ids are assigned in order in both runs, so a step names the same hold in each.
          const openDirect: number[] = [];
          const openGrouped: number[] = [];
          const outcomesDirect: string[] = [];
          const turn: Promise<string>[] = [];
          const outcomesGrouped: string[] = [];
          const write = (ledger: Ledger, open: number[], step: Step, i: number): string => {
            switch (step.op) {
              case 'admit': {
                const a = ledger.admit(request(step.n));
                if (a.admitted) open.push(a.holdId);
                return a.state;
              }
              case 'post': {
                // Sometimes a hold that is already settled: that write must fail, alone.
                const id = open.length > 0 && step.n % 5 !== 0 ? open.splice(step.n % open.length, 1)[0]! : step.n % 7;
                return `cost ${ledger.post(id, { usage: unitUsage(step.n) }).cost}`;
              }
              case 'void': {
                const id = open.length > 0 ? open.splice(step.n % open.length, 1)[0]! : 99;
                ledger.void(id);
                return 'void';
              }
              case 'add':
                return `grant ${ledger.addCredits({ amount: step.n + 1, idempotencyKey: `k${i % 4}`, source: 'purchase' }).duplicate}`;
            }
          };
          const outcome = (run: () => string): string => {
            try {
              return run();
            } catch (error) {
              return `error ${(error as LedgerError).code}`;
            }
          };
          for (const [i, step] of steps.entries()) {
            outcomesDirect.push(outcome(() => write(direct.ledger, openDirect, step, i)));
            turn.push(
              commits.run((ledger) => write(ledger, openGrouped, step, i)).catch((error: unknown) => `error ${(error as LedgerError).code}`),
            );
            if (step.endTurn || i === steps.length - 1) outcomesGrouped.push(...(await Promise.all(turn.splice(0))));
          }
          expect(outcomesGrouped).toEqual(outcomesDirect);
          expect(grouped.ledger.status()).toEqual(direct.ledger.status());
          const [a, b] = [auditDatabase(direct.path), auditDatabase(grouped.path)];
          expect(b).toEqual(a);
          expect(b.balance).toBe(b.balanceFromRows);
        } finally {
          direct.cleanup();
          grouped.cleanup();
        }
      }),
      { numRuns: 60 },
    );
  });
});
