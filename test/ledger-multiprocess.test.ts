/**
 * Several OS processes on one ledger, on each store (a SQLite file; a PostgreSQL database): no lost or
 * doubled rows, totals equal to the rows, holds respected across processes, and holds of a SIGKILLed
 * process recovered at their estimate.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BookUnderTest } from './fixtures/ledger-stores';
import { ledgerStoresForTests } from './fixtures/ledger-stores';
import { micro } from './fixtures/ledger-setup';
import { releaseTogether, waitForLine } from './helpers/workers';

const WORKER = join(__dirname, 'fixtures', 'ledger-worker.ts');
/** Thousands of transactions from four processes on a shared two-core machine. */
const TIMEOUT_MS = 180_000;
const stores = ledgerStoresForTests();
const children: ChildProcess[] = [];
let t: BookUnderTest | undefined;

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function startWorker(...args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/**
 * Starts `count` workers, releases them together once all have opened the ledger, and returns the
 * JSON each printed on its last line.
 */
function runTogether<T>(count: number, ...args: string[]): Promise<T[]> {
  return releaseTogether<T>(Array.from({ length: count }, () => startWorker(...args)));
}

describe.each(stores.kinds)('ledger across processes on %s', (kind) => {
  it('loses and doubles no rows when four processes admit and post at once', async () => {
    t = await stores.open(kind, { initialPlan: 'pro' });
    await t.book.addCredits({ amount: 1_000_000, idempotencyKey: 'k', source: 'purchase' });
    const results = await runTogether<{ posts: number; blocked: number }>(4, 'churn', t.location, '2000');
    const posts = results.reduce((sum, r) => sum + r.posts, 0);
    expect(posts).toBe(8_000);
    const audit = await t.audit();
    expect(audit.usageRows).toBe(posts);
    expect(audit.balance).toBe(audit.balanceFromRows);
    expect(audit.planHeldFromRows).toBe(0);
    expect(audit.creditHeldFromRows).toBe(0);
    // Read through a ledger that was open all along: it must see the other processes' rows.
    // Each worker posts 2,000 × the mean of 40..59 (49.5), all on the pro plan.
    expect(micro((await t.book.status()).windows[0]!.used)).toBe(4 * 2_000 * 49.5);
    expect(new Set((await t.book.usageRows({})).map((r) => r.id)).size).toBe(posts);
  }, TIMEOUT_MS);

  it('counts holds across processes: a credit burst is bounded by one request per unit left', async () => {
    t = await stores.open(kind, { initialPlan: 'free' });
    const budget = 5_000;
    await t.book.addCredits({ amount: budget, idempotencyKey: 'budget', source: 'purchase' });
    const estimate = 100;
    const actual = 130;
    const results = await runTogether<{ admitted: number }>(4, 'burst', t.location, String(estimate), String(actual));
    const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
    // Each admission needed balance − held > 0, so all but the last fit within the budget (holds
    // posted early at actual > estimate can only shrink what is left for the others).
    expect(admitted).toBeGreaterThan(0);
    expect((admitted - 1) * estimate).toBeLessThan(budget);
    const audit = await t.audit();
    expect(audit.usageRows).toBe(admitted);
    expect(audit.balance).toBe(budget - admitted * actual);
    expect(audit.balance).toBe(audit.balanceFromRows);
    expect(audit.balance).toBe(audit.remainingMinusDebt);
    expect(audit.misflaggedGrants).toBe(0);
    // Overspend ≤ the last request's estimate + each request's actual − estimate.
    expect(-audit.balance).toBeLessThanOrEqual(estimate + admitted * (actual - estimate));
  }, TIMEOUT_MS);

  it('recovers the holds of a process killed with SIGKILL at their estimate', async () => {
    t = await stores.open(kind, { initialPlan: 'free' });
    const ledger = t.book;
    await ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    const worker = startWorker('hold', t.location, '3', '700');
    await waitForLine(worker, 'ready');
    expect((await ledger.status()).credits.held).toBe(0.0021);
    expect(await ledger.recover()).toBe(0); // the owner is alive
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    worker.kill('SIGKILL');
    await exited;
    await t.outliveHeartbeat(worker.pid!);
    expect(await ledger.recover()).toBe(3);
    const rows = await ledger.usageRows({});
    expect(rows.map((r) => [r.cost, r.estimated, r.reason])).toEqual([
      [0.0007, true, 'gateway_restart'],
      [0.0007, true, 'gateway_restart'],
      [0.0007, true, 'gateway_restart'],
    ]);
    expect((await ledger.status()).credits).toEqual({ balance: 0.0079, held: 0, available: 0.0079 });
    expect(await ledger.recover()).toBe(0); // settled once
    const audit = await t.audit();
    expect(audit.balance).toBe(audit.balanceFromRows);
  }, TIMEOUT_MS);
});
