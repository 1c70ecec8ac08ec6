/**
 * Several OS processes on one ledger file: no lost or doubled rows, totals equal to the rows, holds
 * respected across processes, and holds of a SIGKILLed process recovered at their estimate.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../proxy/ledger/ledger';
import { RATE_CARD, TEST_PLANS, auditDatabase, micro, tempDir } from './fixtures/ledger-setup';

const WORKER = join(__dirname, 'fixtures', 'ledger-worker.ts');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshLedger(plan: string, autoUse = true): { path: string; ledger: Ledger } {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir, 'ledger.db');
  return { path, ledger: Ledger.open({ path, rateCard: RATE_CARD, plans: TEST_PLANS, initialPlan: plan, initialAutoUseCredits: autoUse }) };
}

function startWorker(...args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/**
 * Starts `count` workers, releases them together once all have opened the ledger, and returns the
 * JSON each printed on its last line.
 */
async function runTogether<T>(count: number, ...args: string[]): Promise<T[]> {
  const workers = Array.from({ length: count }, () => startWorker(...args));
  const results = workers.map(
    (child) =>
      new Promise<T>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`worker exited ${code}: ${err}`));
          resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
        });
      }),
  );
  await Promise.all(workers.map((child) => waitForLine(child, 'ready')));
  for (const child of workers) child.stdin!.write('go\n');
  return Promise.all(results);
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`worker exited ${code} before "${line}"`)));
  });
}

describe('ledger across processes', () => {
  it('loses and doubles no rows when four processes admit and post at once', async () => {
    const { path, ledger } = freshLedger('pro');
    ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'k', source: 'purchase' });
    ledger.close();
    const results = await runTogether<{ posts: number; blocked: number }>(4, 'churn', path, '2000');
    const posts = results.reduce((sum, r) => sum + r.posts, 0);
    expect(posts).toBe(8_000);
    const audit = auditDatabase(path);
    expect(audit.usageRows).toBe(posts);
    expect(audit.balance).toBe(audit.balanceFromRows);
    expect(audit.planHeldFromRows).toBe(0);
    expect(audit.creditHeldFromRows).toBe(0);
    const reader = Ledger.open({ path, rateCard: RATE_CARD, plans: TEST_PLANS });
    try {
      // Each worker posts 2,000 × the mean of 40..59 (49.5), all on the pro plan.
      expect(micro(reader.status().windows[0]!.used)).toBe(4 * 2_000 * 49.5);
      expect(new Set(reader.usageRows({}).map((r) => r.id)).size).toBe(posts);
    } finally {
      reader.close();
    }
  });

  it('counts holds across processes: a credit burst is bounded by one request per unit left', async () => {
    const { path, ledger } = freshLedger('free');
    const budget = 5_000;
    ledger.addCredits({ amount: budget, idempotencyKey: 'budget', source: 'purchase' });
    ledger.close();
    const estimate = 100;
    const actual = 130;
    const results = await runTogether<{ admitted: number }>(4, 'burst', path, String(estimate), String(actual));
    const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
    // Each admission needed balance − held > 0, so all but the last fit within the budget (holds
    // posted early at actual > estimate can only shrink what is left for the others).
    expect(admitted).toBeGreaterThan(0);
    expect((admitted - 1) * estimate).toBeLessThan(budget);
    const audit = auditDatabase(path);
    expect(audit.usageRows).toBe(admitted);
    expect(audit.balance).toBe(budget - admitted * actual);
    expect(audit.balance).toBe(audit.balanceFromRows);
    expect(audit.balance).toBe(audit.remainingMinusDebt);
    expect(audit.misflaggedGrants).toBe(0);
    // Overspend ≤ the last request's estimate + each request's actual − estimate.
    expect(-audit.balance).toBeLessThanOrEqual(estimate + admitted * (actual - estimate));
  });

  it('recovers the holds of a process killed with SIGKILL at their estimate', async () => {
    const { path, ledger } = freshLedger('free');
    ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
    const worker = startWorker('hold', path, '3', '700');
    await waitForLine(worker, 'ready');
    expect(ledger.status().credits.held).toBe(0.0021);
    expect(ledger.recover()).toBe(0); // the owner is alive
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    worker.kill('SIGKILL');
    await exited;
    expect(ledger.recover()).toBe(3);
    const rows = ledger.usageRows({});
    expect(rows.map((r) => [r.cost, r.estimated, r.reason])).toEqual([
      [0.0007, true, 'gateway_restart'],
      [0.0007, true, 'gateway_restart'],
      [0.0007, true, 'gateway_restart'],
    ]);
    expect(ledger.status().credits).toEqual({ balance: 0.0079, held: 0, available: 0.0079 });
    ledger.close();
    const audit = auditDatabase(path);
    expect(audit.balance).toBe(audit.balanceFromRows);
  });
});
