/**
 * Property tests: random sequences of ledger operations (credits, refunds, admit, post, void, reset,
 * clock moves, plan and auto-use changes, grant expiry) must keep the accounting invariants, checked
 * against an independent recomputation from the rows, the ledger's own books check (books.ts), and the
 * status the ledger reported before each step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Status } from '../shared/protocol';
import type { BookUnderTest } from './fixtures/ledger-stores';
import { ledgerStoresForTests } from './fixtures/ledger-stores';
import { FIVE_HOURS, HOUR, heldIn, micro, request, unitUsage } from './fixtures/ledger-setup';

type Op =
  | { kind: 'add'; amount: number; key: number; expiresIn: number | null }
  | { kind: 'refund'; key: number; amount: number; refundKey: number }
  | { kind: 'admit'; estimate: number; feature: 'assistant' | 'images' }
  | { kind: 'post'; pick: number; actual: number }
  | { kind: 'void'; pick: number }
  | { kind: 'reset' }
  | { kind: 'advance'; ms: number }
  | { kind: 'plan'; name: 'tiny' | 'weeklyOnly' | 'free' }
  | { kind: 'autoUse'; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), amount: fc.integer({ min: 1, max: 3_000 }), key: fc.integer({ min: 0, max: 6 }), expiresIn: fc.option(fc.integer({ min: 1, max: 8 * HOUR })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refund' as const), key: fc.integer({ min: 0, max: 6 }), amount: fc.integer({ min: 1, max: 3_000 }), refundKey: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('admit' as const), estimate: fc.integer({ min: 0, max: 1_500 }), feature: fc.constantFrom('assistant' as const, 'images' as const) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('post' as const), pick: fc.nat(), actual: fc.integer({ min: 0, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: HOUR }), fc.constant(FIVE_HOURS), fc.integer({ min: 0, max: 8 * 24 * HOUR })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plan' as const), name: fc.constantFrom('tiny' as const, 'weeklyOnly' as const, 'free' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('autoUse' as const), on: fc.boolean() }) },
);

/** The state the rules give a request, computed from a status snapshot (independently of the ledger). */
function expectedState(status: Status, feature: string): 'plan' | 'credits' | 'blocked' {
  const covered = feature === 'assistant' && status.plan !== 'free';
  const windows = covered ? status.windows.filter((w) => w.limit > 0) : [];
  if (windows.length > 0 && windows.every((w) => micro(w.limit) - micro(w.used) - micro(w.held) > 0)) return 'plan';
  const available = micro(status.credits.balance) - micro(status.credits.held);
  if (status.autoUseCredits && available > 0) return 'credits';
  return 'blocked';
}

/** Every step is a few round trips to a server on PostgreSQL: thousands of steps take minutes on a busy machine. */
const PROPERTY_TIMEOUT_MS = 600_000;

const stores = ledgerStoresForTests();
let t: BookUnderTest | undefined;

describe.each(stores.kinds)('ledger properties on %s', (kind) => {
  it('keeps balance = Σ rows, held = Σ open holds, and admits only when the rules allow', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        t = await stores.open(kind);
        const ledger = t.book;
        const open: { holdId: number; kind: 'plan' | 'credits'; estimate: number }[] = [];
        const keys = new Map<number, { grantId: number; amount: number; expiresAt: number | null; refunded: number }>(); // idempotency key → its purchase
        const refunds = new Map<number, { key: number; amount: number }>(); // refund key → what it refunded
        for (const op of ops) {
          const before = await ledger.status();
          const balanceBefore = micro(before.credits.balance);
          switch (op.kind) {
            case 'add': {
              const expiresAt = op.expiresIn === null ? null : t.clock.now + op.expiresIn;
              const purchase = { amount: op.amount, idempotencyKey: `k${op.key}`, source: 'purchase', expiresAt } as const;
              const earlier = keys.get(op.key);
              if (earlier && (earlier.amount !== op.amount || earlier.expiresAt !== expiresAt)) {
                // The key of another purchase: refused, nothing added.
                await expect(ledger.addCredits(purchase)).rejects.toMatchObject({ code: 'idempotency_conflict' });
                expect(micro((await ledger.status()).credits.balance)).toBe(balanceBefore);
                break;
              }
              const result = await ledger.addCredits(purchase);
              expect(result.duplicate).toBe(earlier !== undefined);
              if (earlier) expect(result.grantId).toBe(earlier.grantId);
              keys.set(op.key, earlier ?? { grantId: result.grantId, amount: op.amount, expiresAt, refunded: 0 });
              expect(micro((await ledger.status()).credits.balance)).toBe(balanceBefore + (result.duplicate ? 0 : op.amount));
              break;
            }
            case 'refund': {
              const refund = { grantKey: `k${op.key}`, amount: op.amount, idempotencyKey: `r${op.refundKey}` };
              const grant = keys.get(op.key);
              const earlier = refunds.get(op.refundKey);
              const balanceOf = async (): Promise<number> => micro((await ledger.status()).credits.balance);
              if (!grant) {
                await expect(ledger.refundCredits(refund)).rejects.toMatchObject({ code: 'invalid_argument' });
              } else if (earlier && (earlier.key !== op.key || earlier.amount !== op.amount)) {
                await expect(ledger.refundCredits(refund)).rejects.toMatchObject({ code: 'idempotency_conflict' });
              } else if (earlier) {
                expect(await ledger.refundCredits(refund)).toMatchObject({ duplicate: true });
              } else if (op.amount > grant.amount - grant.refunded) {
                // Never more than was bought.
                await expect(ledger.refundCredits(refund)).rejects.toMatchObject({ code: 'invalid_argument' });
              } else {
                expect(await ledger.refundCredits(refund)).toMatchObject({ duplicate: false });
                grant.refunded += op.amount;
                refunds.set(op.refundKey, { key: op.key, amount: op.amount });
                // Taken back in full, even past zero: the balance may go negative.
                expect(await balanceOf()).toBe(balanceBefore - op.amount);
                break;
              }
              expect(await balanceOf()).toBe(balanceBefore);
              break;
            }
            case 'admit': {
              const expected = expectedState(before, op.feature);
              const a = await ledger.admit(request(op.estimate, op.feature));
              expect(a.state).toBe(expected);
              if (a.admitted) open.push({ holdId: a.holdId, kind: a.state, estimate: Math.max(1, op.estimate) });
              break;
            }
            case 'post': {
              if (open.length === 0) break;
              const [hold] = open.splice(op.pick % open.length, 1);
              const p = await ledger.post(hold!.holdId, { usage: unitUsage(op.actual) });
              expect(p.cost).toBe(op.actual);
              expect(p.planCost + p.creditCost).toBe(op.actual);
              expect(micro((await ledger.status()).credits.balance)).toBe(balanceBefore - p.creditCost);
              if (hold!.kind === 'credits') {
                expect(p.creditCost).toBe(op.actual);
              } else if (p.creditCost > 0) {
                // Overflow to credits only with auto-use on and a positive balance; the plan took what was left.
                expect(before.autoUseCredits).toBe(true);
                expect(balanceBefore).toBeGreaterThan(0);
                // A plan changed since admission may have no window left at all: then nothing is left on it.
                const limited = before.windows.filter((w) => w.limit > 0);
                const left = limited.length === 0 ? 0 : Math.min(...limited.map((w) => Math.max(0, micro(w.limit) - micro(w.used))));
                expect(p.planCost).toBe(Math.min(op.actual, left));
              }
              break;
            }
            case 'void': {
              if (open.length === 0) break;
              const [hold] = open.splice(op.pick % open.length, 1);
              await ledger.void(hold!.holdId);
              expect(micro((await ledger.status()).credits.balance)).toBe(balanceBefore);
              break;
            }
            case 'reset':
              await ledger.resetWindows();
              expect((await ledger.status()).windows.every((w) => w.used === 0 && w.resetsAt === null)).toBe(true);
              break;
            case 'advance':
              t.clock.advance(op.ms);
              break;
            case 'plan':
              await ledger.setPlan(op.name);
              break;
            case 'autoUse':
              await ledger.setAutoUseCredits(op.on);
              break;
          }
          const after = await ledger.status();
          expect(await ledger.checkBooks()).toEqual([]);
          const audit = await t.audit();
          expect(audit.balance).toBe(audit.balanceFromRows);
          expect(audit.balance).toBe(audit.remainingMinusDebt);
          expect(audit.negativeRemaining).toBe(0);
          expect(audit.misflaggedGrants).toBe(0);
          expect(audit.debt).toBeGreaterThanOrEqual(0);
          // The held sums the ledger reports (kept in memory) equal the open holds' rows and the test's own list.
          const held = heldIn(after);
          const planOpen = open.filter((h) => h.kind === 'plan').reduce((sum, h) => sum + h.estimate, 0);
          expect(held.credits).toBe(audit.creditHeldFromRows);
          expect(held.credits).toBe(open.filter((h) => h.kind === 'credits').reduce((sum, h) => sum + h.estimate, 0));
          expect(audit.planHeldFromRows).toBe(planOpen);
          if (held.plan !== null) expect(held.plan).toBe(planOpen);
          expect(micro(after.credits.balance)).toBe(audit.balance - (await t.unbookedExpiry(t.clock.now)));
        }
      }),
      { numRuns: 120 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('bounds a concurrent burst: one admission per unit left, overspend ≤ last estimate + Σ(actual − estimate)⁺', async () => {
    const burst = fc.array(
      fc.record({ estimate: fc.integer({ min: 1, max: 400 }), actual: fc.integer({ min: 0, max: 800 }) }),
      { minLength: 1, maxLength: 30 },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2_000 }), burst, fc.boolean(), async (budget, requests, onPlan) => {
        // On the plan: auto-use off so overruns stay on the window. On credits: a plan without allowance.
        t = await stores.open(kind, { initialPlan: onPlan ? 'tiny' : 'free', initialAutoUseCredits: !onPlan });
        if (onPlan) {
          // Leave exactly `budget` (≤ 1,000) in the 5h window.
          const pre = await t.book.admit(request(1));
          if (!pre.admitted) throw new Error('blocked');
          await t.book.post(pre.holdId, { usage: unitUsage(1_000 - Math.min(budget, 1_000)) });
        } else {
          await t.book.addCredits({ amount: budget, idempotencyKey: 'budget', source: 'purchase' });
        }
        const left = onPlan ? Math.min(budget, 1_000) : budget;
        const admitted: { holdId: number; estimate: number; actual: number }[] = [];
        // All at once, as a burst of requests arrives: one transaction (one group commit) decides them.
        const admissions = await Promise.all(requests.map((r) => t!.book.admit(request(r.estimate))));
        admissions.forEach((a, i) => {
          if (a.admitted) admitted.push({ holdId: a.holdId, ...requests[i]! });
        });
        if (left > 0) expect(admitted.length).toBeGreaterThan(0);
        const heldBeforeLast = admitted.slice(0, -1).reduce((sum, h) => sum + h.estimate, 0);
        expect(heldBeforeLast).toBeLessThan(left);
        await Promise.all(admitted.map((h) => t!.book.post(h.holdId, { usage: unitUsage(h.actual) })));
        const s = await t.book.status();
        const overspend = onPlan ? micro(s.windows[0]!.used) - 1_000 : -micro(s.credits.balance);
        const bound = (admitted.at(-1)?.estimate ?? 0) + admitted.reduce((sum, h) => sum + Math.max(0, h.actual - h.estimate), 0);
        expect(overspend).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 150 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('two connections interleaving writes report the same totals', async () => {
    type Step = { on: 0 | 1; op: 'add' | 'admit' | 'post' | 'void' | 'plan' | 'advance'; n: number };
    const stepArb: fc.Arbitrary<Step> = fc.record({
      on: fc.constantFrom(0 as const, 1 as const),
      op: fc.constantFrom('add' as const, 'admit' as const, 'admit' as const, 'post' as const, 'post' as const, 'void' as const, 'plan' as const, 'advance' as const),
      n: fc.integer({ min: 0, max: 1_500 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        t = await stores.open(kind);
        // A second connection on the same ledger and clock, as a CLI or a second gateway would open it.
        const second = await t.alongside();
        const ledgers = [t.book, second];
        const open: number[] = [];
        for (const [i, step] of steps.entries()) {
          const ledger = ledgers[step.on]!;
          if (step.op === 'add') await ledger.addCredits({ amount: step.n + 1, idempotencyKey: `k${i}`, source: 'purchase' });
          else if (step.op === 'admit') {
            const a = await ledger.admit(request(step.n));
            if (a.admitted) open.push(a.holdId);
          } else if (step.op === 'post' && open.length > 0) await ledger.post(open.splice(step.n % open.length, 1)[0]!, { usage: unitUsage(step.n) });
          else if (step.op === 'void' && open.length > 0) await ledger.void(open.splice(step.n % open.length, 1)[0]!);
          else if (step.op === 'plan') await ledger.setPlan(step.n % 2 === 0 ? 'tiny' : 'weeklyOnly');
          else if (step.op === 'advance') t.clock.advance(step.n * 10_000);
          const [a, b] = await Promise.all(ledgers.map((l) => l.status()));
          expect(b).toEqual(a);
          expect(await second.checkBooks()).toEqual([]);
          const audit = await t.audit();
          expect(micro(a!.credits.balance)).toBe(audit.balanceFromRows);
          expect(audit.balance).toBe(audit.balanceFromRows);
          expect(micro(a!.credits.held)).toBe(audit.creditHeldFromRows);
        }
      }),
      { numRuns: 60 },
    );
  }, PROPERTY_TIMEOUT_MS);
});
