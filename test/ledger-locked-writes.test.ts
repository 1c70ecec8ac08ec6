/**
 * Writes while another connection holds the database locked (proxy/ledger/groupCommit.ts,
 * settlements.ts, chargeJournal.ts): they wait without blocking the event loop, a hold gives up after
 * its patience, a charge waits until it lands and meanwhile sits in the pending-charges journal, which
 * the next start replays exactly once.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChargeJournal, pendingChargesFile, readKeptSettlements, type KeptSettlement } from '../proxy/ledger/chargeJournal';
import { EVENT_LOOP_BUSY_TIMEOUT_MS } from '../proxy/ledger/connection';
import { GroupCommit } from '../proxy/ledger/groupCommit';
import { Ledger, LedgerStorageError } from '../proxy/ledger/ledger';
import { Store } from '../proxy/ledger/store';
import { Settlements } from '../proxy/ledger/settlements';
import type { TempLedger } from './fixtures/ledger-setup';
import { RATE_CARD, auditDatabase, openTemp, request, unitUsage } from './fixtures/ledger-setup';

const temps: TempLedger[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
});

/** A ledger on a file, with credits, whose connection waits for a lock as briefly as the gateway's. */
function temp(): TempLedger {
  const t = openTemp({ initialPlan: 'free' });
  t.ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'seed', source: 'purchase' });
  t.ledger.setBusyTimeout(EVENT_LOOP_BUSY_TIMEOUT_MS);
  temps.push(t);
  return t;
}

function lock(t: TempLedger): () => void {
  const other = new Database(t.path);
  other.exec('BEGIN EXCLUSIVE');
  return () => {
    other.exec('COMMIT');
    other.close();
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The longest the event loop went without running a 5 ms timer while `during` ran. */
async function longestStall(during: Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await during;
  } finally {
    clearInterval(timer);
  }
  return longest;
}

function admitted(t: TempLedger, estimate = 10): number {
  const a = t.ledger.admit(request(estimate));
  if (!a.admitted) throw new Error('blocked');
  return a.holdId;
}

describe('group commit while another connection holds the lock', () => {
  it('retries without blocking the event loop and commits once the lock goes', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const release = lock(t);
    const waiting: string[] = [];
    const written = commits.run((ledger) => ledger.admit(request(40)), { onWaiting: () => waiting.push('first') });
    const second = commits.run((ledger) => ledger.admit(request(60)), { onWaiting: () => waiting.push('second') });
    const stall = longestStall(sleep(400).then(release));
    const [a, b] = await Promise.all([written, second]);
    // Blocking on the lock would stall the loop for its whole 400 ms; the margin is for a busy CI host.
    expect(await stall).toBeLessThan(150);
    expect(a.admitted && b.admitted).toBe(true);
    expect(waiting).toEqual(['first', 'second']); // each told once that it waits
    expect(auditDatabase(t.path).creditHeldFromRows).toBe(100);
  });

  it('gives up on a write whose patience runs out, with the busy error, and writes nothing of it', async () => {
    const t = temp();
    const commits = new GroupCommit(t.ledger);
    const release = lock(t);
    const started = performance.now();
    try {
      await expect(commits.run((ledger) => ledger.admit(request(40)), { patienceMs: 150 })).rejects.toBeInstanceOf(LedgerStorageError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
      expect(performance.now() - started).toBeLessThan(400);
      // runNow tries at once, then waits the same way.
      await expect(commits.runNow((ledger) => ledger.admit(request(40)), { patienceMs: 50 })).rejects.toMatchObject({ problem: 'busy' });
    } finally {
      release();
    }
    expect(auditDatabase(t.path).creditHeldFromRows).toBe(0);
    await expect(commits.runNow((ledger) => ledger.admit(request(40)))).resolves.toMatchObject({ admitted: true });
  });
});

describe('settlements while another connection holds the lock', () => {
  function settlements(t: TempLedger, events: string[] = []): { settlements: Settlements; journal: ChargeJournal } {
    const journal = new ChargeJournal(pendingChargesFile(t.path));
    const s = new Settlements(t.ledger, new GroupCommit(t.ledger), journal, {
      landed: () => events.push('landed'),
      failed: (holdId) => events.push(`failed ${holdId}`),
      journalFailed: (holdId) => events.push(`journal failed ${holdId}`),
    });
    return { settlements: s, journal };
  }

  it('is durable in the journal while locked, lands once the lock goes, and the journal goes with it', async () => {
    const t = temp();
    const events: string[] = [];
    const { settlements: s, journal } = settlements(t, events);
    const charged = admitted(t);
    const voided = admitted(t);
    const release = lock(t);
    await s.post(charged, { usage: unitUsage(25) });
    await s.voidNow(voided);
    // Durable, not yet written: both in the journal, fsynced.
    expect(readKeptSettlements(pendingChargesFile(t.path))).toEqual([
      { kind: 'post', holdId: charged, charge: { usage: unitUsage(25) } },
      { kind: 'void', holdId: voided },
    ]);
    expect(auditDatabase(t.path).usageRows).toBe(0);
    expect(journal.pending).toBe(2);
    release();
    await until(() => journal.pending === 0 && !fs.existsSync(pendingChargesFile(t.path)));
    const audit = auditDatabase(t.path);
    expect(audit.usageRows).toBe(1);
    expect(audit.balanceFromRows).toBe(1_000_000 - 25);
    expect(audit.creditHeldFromRows).toBe(0);
    expect(events).toEqual(['landed', 'landed']);
  });

  it('postWithLimits commits with the turn\'s other writes and reads the limits after its own charge', async () => {
    const t = temp();
    const { settlements: s } = settlements(t);
    const first = admitted(t);
    const second = admitted(t);
    const transactions = vi.spyOn(t.ledger, 'batch');
    const plain = s.post(first, { usage: unitUsage(5) });
    const posted = s.postWithLimits(second, { usage: unitUsage(7) });
    const limits = await posted.limits;
    await Promise.all([plain, posted.durable]);
    // One transaction for both: the charge did not take one of its own.
    expect(transactions).toHaveBeenCalledTimes(1);
    // The limits are the account's right after this charge (and the one queued before it).
    expect(limits?.balance).toBe(1_000_000 - 12);
    expect(limits?.available).toBe(1_000_000 - 12);
    expect(auditDatabase(t.path).usageRows).toBe(2);
  });

  it('postWithLimits gives no limits for a charge kept while locked, as soon as it is journaled', async () => {
    const t = temp();
    const { settlements: s } = settlements(t);
    const hold = admitted(t);
    const release = lock(t);
    try {
      const kept = s.postWithLimits(hold, { usage: unitUsage(7) });
      // Durable in the journal while the lock is still held: the caller need not wait for the lock.
      expect(await kept.limits).toBeNull();
      await kept.durable;
      expect(readKeptSettlements(pendingChargesFile(t.path))).toHaveLength(1);
      expect(auditDatabase(t.path).usageRows).toBe(0);
    } finally {
      release();
    }
    await until(() => auditDatabase(t.path).usageRows === 1);
  });

  it('leaves what the database still refuses at close in the journal, which the next start posts exactly once', async () => {
    const t = temp();
    const { settlements: s } = settlements(t);
    const holds = [admitted(t, 30), admitted(t, 30)];
    const release = lock(t);
    try {
      await Promise.all(holds.map((hold, i) => s.post(hold, { usage: unitUsage(10 + i) })));
      await s.close();
    } finally {
      release();
    }
    expect(readKeptSettlements(pendingChargesFile(t.path))).toHaveLength(2);
    // A restart: the next ledger recovers the dead holds, their kept charges first (not their estimates).
    const next = t.reopen();
    expect(next.recover()).toBe(0);
    const audit = auditDatabase(t.path);
    expect(audit.usageRows).toBe(2);
    expect(audit.balanceFromRows).toBe(1_000_000 - 21);
    expect(audit.creditHeldFromRows).toBe(0);
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(false);
    expect(next.audit().filter((row) => row.action === 'kept_charges_replayed')).toEqual([expect.objectContaining({ actor: 'system', detail: { count: 2 } })]);
  });
});

describe('a status while another connection holds the lock', () => {
  it('reads without waiting for it, an expiry due but not yet booked already off the balance', () => {
    const t = temp();
    t.ledger.setBusyTimeout(5_000); // a status that waited for the lock would show
    t.ledger.addCredits({ amount: 300, idempotencyKey: 'soon', source: 'promo', expiresAt: t.clock.now + 1_000 });
    t.clock.advance(1_000);
    const release = lock(t);
    try {
      const started = performance.now();
      expect(t.ledger.status().credits.balance).toBe(1);
      expect(t.ledger.limits().balance).toBe(1_000_000);
      // Waiting for the lock would take the whole 5 s busy timeout; the margin is for a busy CI host.
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      release();
    }
  });
});

describe('the pending-charges journal at the next start', () => {
  function journal(t: TempLedger, entries: (KeptSettlement | string)[]): void {
    fs.writeFileSync(pendingChargesFile(t.path), entries.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n'));
  }

  it('skips a settlement that already landed (the journal outlived its commit) and a torn last line', () => {
    const t = temp();
    const landed = admitted(t);
    t.ledger.post(landed, { usage: unitUsage(3) });
    const open = admitted(t, 50);
    journal(t, [
      { kind: 'post', holdId: landed, charge: { usage: unitUsage(3) } },
      { kind: 'post', holdId: open, charge: { usage: unitUsage(4) } },
      '{"kind":"void","hol', // a crash mid-append: its response never ended
    ]);
    const next = t.reopen();
    expect(next.recover()).toBe(0);
    const audit = auditDatabase(t.path);
    expect(audit.usageRows).toBe(2);
    expect(audit.balanceFromRows).toBe(1_000_000 - 7);
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(false);
  });

  it('leaves a charge it cannot price to the recovery at its estimate', () => {
    const t = temp();
    const hold = admitted(t, 50);
    journal(t, [{ kind: 'post', holdId: hold, charge: { usage: unitUsage(3), model: 'no-such-model' } }]);
    const next = t.reopen();
    expect(next.recover()).toBe(1);
    expect(auditDatabase(t.path).balanceFromRows).toBe(1_000_000 - 50);
    expect(next.audit().map((row) => row.action)).not.toContain('kept_charges_replayed'); // none was
  });

  it('stays, nothing of it written, when the disk fills during the replay; the next start posts it', () => {
    const t = temp();
    const holds = [admitted(t, 50), admitted(t, 50)];
    journal(t, [
      { kind: 'void', holdId: holds[0]! },
      { kind: 'post', holdId: holds[1]!, charge: { usage: unitUsage(4) } },
    ]);
    const next = t.reopen();
    const full = vi.spyOn(Store.prototype, 'insertUsage').mockImplementation(() => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    });
    try {
      expect(() => next.recover()).toThrow(expect.objectContaining({ code: 'storage', problem: 'full' }));
    } finally {
      full.mockRestore();
    }
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(true);
    expect(auditDatabase(t.path)).toMatchObject({ usageRows: 0, creditHeldFromRows: 100 }); // the void rolled back too
    expect(next.recover()).toBe(0);
    expect(auditDatabase(t.path)).toMatchObject({ usageRows: 1, balanceFromRows: 1_000_000 - 4, creditHeldFromRows: 0 });
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(false);
  });

  it('is never looked for beside an in-memory ledger, not even as a file of that name in the working directory', () => {
    const file = pendingChargesFile(':memory:');
    fs.writeFileSync(file, `${JSON.stringify({ kind: 'void', holdId: 1 })}\n`);
    const ledger = Ledger.open({ path: ':memory:', rateCard: RATE_CARD, initialPlan: 'free' });
    try {
      expect(ledger.recover()).toBe(0);
      expect(fs.readFileSync(file, 'utf8')).toBe(`${JSON.stringify({ kind: 'void', holdId: 1 })}\n`);
    } finally {
      ledger.close();
      fs.rmSync(file, { force: true });
    }
  });

  it('stays, replayed later, when the database is locked at start', () => {
    const t = temp();
    const hold = admitted(t, 50);
    journal(t, [{ kind: 'void', holdId: hold }]);
    const next = t.reopen({ busyTimeoutMs: 20 });
    const release = lock(t);
    try {
      expect(() => next.recover()).toThrow(LedgerStorageError);
    } finally {
      release();
    }
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(true);
    expect(next.recover()).toBe(0);
    expect(auditDatabase(t.path)).toMatchObject({ usageRows: 0, creditHeldFromRows: 0 });
  });
});

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}
