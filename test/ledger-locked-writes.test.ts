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
import { RATE_CARD, auditDatabase, openTemp, request, tempDir, unitUsage } from './fixtures/ledger-setup';

const temps: TempLedger[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.cleanup();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A directory removed after the test. */
function scratchDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

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

/** Settlements over the ledger, with the journal beside its file (or the one given, or none), and what they report. */
function settlements(
  t: TempLedger,
  events: string[] = [],
  journal: ChargeJournal | null = new ChargeJournal(pendingChargesFile(t.path)),
): { settlements: Settlements; journal: ChargeJournal; commits: GroupCommit } {
  const commits = new GroupCommit(t.ledger);
  const s = new Settlements(t.ledger, commits, journal, {
    landed: () => events.push('landed'),
    failed: (holdId) => events.push(`failed ${holdId}`),
    journalFailed: (holdId) => events.push(`journal failed ${holdId}`),
  });
  return { settlements: s, journal: journal!, commits };
}

describe('settlements while another connection holds the lock', () => {

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

describe('settlements: each answers once, whatever the ledger says', () => {
  it('voidNow voids at once when no write waits for a lock: the hold is gone before the call returns', () => {
    const t = temp();
    const events: string[] = [];
    const { settlements: s } = settlements(t, events);
    const hold = admitted(t, 40);
    void s.voidNow(hold);
    expect(auditDatabase(t.path).creditHeldFromRows).toBe(0);
    expect(events).toEqual(['landed']);
  });

  it('voidNow does not try at once behind writes already waiting for the lock (the try would block the event loop)', async () => {
    const t = temp();
    const { settlements: s, commits } = settlements(t);
    const [charged, voided] = [admitted(t), admitted(t)];
    const release = lock(t);
    const voids = vi.spyOn(t.ledger, 'void');
    let posted: Promise<void>;
    let dropped: Promise<void>;
    try {
      posted = s.post(charged, { usage: unitUsage(5) });
      await until(() => commits.waiting > 0);
      dropped = s.voidNow(voided);
      expect(voids).not.toHaveBeenCalled();
    } finally {
      release();
    }
    await Promise.all([posted, dropped]);
    expect(auditDatabase(t.path)).toMatchObject({ usageRows: 1, creditHeldFromRows: 0 });
  });

  // voidNow tries at once and finds the lock on its own try; void() queues like a charge.
  it.each(['voidNow', 'void'] as const)('%s keeps a void that finds the database locked, like a charge: journaled as a line the next start reads, then landed', async (method) => {
    const t = temp();
    const { settlements: s, journal } = settlements(t);
    const hold = admitted(t, 40);
    const release = lock(t);
    try {
      await s[method](hold);
      expect(readKeptSettlements(pendingChargesFile(t.path))).toEqual([{ kind: 'void', holdId: hold }]);
    } finally {
      release();
    }
    await until(() => journal.pending === 0 && auditDatabase(t.path).creditHeldFromRows === 0);
  });

  it('reports a void or charge the ledger refuses for another reason than a lock, and still answers it', async () => {
    const t = temp();
    const events: string[] = [];
    const { settlements: s } = settlements(t, events);
    const hold = admitted(t);
    t.ledger.void(hold); // settled already: the ledger refuses to settle it again
    void s.voidNow(hold);
    expect(events).toEqual([`failed ${hold}`]); // at once, not after the turn's commit
    await s.post(hold, { usage: unitUsage(5) });
    expect(await s.postWithLimits(hold, { usage: unitUsage(5) }).limits).toBeNull();
    expect(events).toEqual([`failed ${hold}`, `failed ${hold}`, `failed ${hold}`]);
    expect(auditDatabase(t.path).usageRows).toBe(0);
  });

  it('commits what is queued before close() resolves', async () => {
    const t = temp();
    const { settlements: s } = settlements(t);
    const posted = s.post(admitted(t), { usage: unitUsage(5) });
    await s.close();
    expect(auditDatabase(t.path).usageRows).toBe(1);
    await posted;
  });

  it('without a journal (an in-memory ledger), a charge waits for the lock, and one still locked at close is reported and answered', async () => {
    const t = temp();
    const events: string[] = [];
    const { settlements: s, commits } = settlements(t, events, null);
    const [landing, refused] = [admitted(t), admitted(t)];
    let release = lock(t);
    const landed = s.post(landing, { usage: unitUsage(5) });
    await sleep(30);
    release();
    await landed;
    expect(auditDatabase(t.path).usageRows).toBe(1);
    release = lock(t);
    try {
      const kept = s.post(refused, { usage: unitUsage(6) });
      await until(() => commits.waiting > 0);
      await s.close();
      await kept;
    } finally {
      release();
    }
    expect(events).toEqual(['landed', `failed ${refused}`]);
    expect(fs.existsSync(pendingChargesFile(t.path))).toBe(false);
  });

  it('reports a journal it cannot write, and still lands the charge once the lock goes', async () => {
    const t = temp();
    const events: string[] = [];
    const nowhere = new ChargeJournal(`${t.path}.missing-dir/pending-charges`);
    const { settlements: s } = settlements(t, events, nowhere);
    const hold = admitted(t);
    const release = lock(t);
    const posted = s.post(hold, { usage: unitUsage(5) });
    await until(() => events.includes(`journal failed ${hold}`));
    release();
    await posted;
    expect(events).toEqual([`journal failed ${hold}`, 'landed']);
    expect(auditDatabase(t.path).usageRows).toBe(1);
  });

  it('at close, leaves a charge journaled while locked in the journal: neither reported failed nor marked landed', async () => {
    const t = temp();
    const events: string[] = [];
    const { settlements: s } = settlements(t, events);
    const hold = admitted(t);
    const release = lock(t);
    try {
      await s.post(hold, { usage: unitUsage(5) });
      await s.close();
      await sleep(50); // what a settlement's refusal at close would do to the file has happened by now
    } finally {
      release();
    }
    expect(readKeptSettlements(pendingChargesFile(t.path))).toEqual([{ kind: 'post', holdId: hold, charge: { usage: unitUsage(5) } }]);
    expect(events).toEqual([]);
  });
});

describe('the pending-charges journal file', () => {
  /** File descriptors of this process open on `file` (Linux). */
  function openOn(file: string): number {
    return fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    }).length;
  }

  it('reads settlements line by line, skipping blank, torn, null and malformed lines', () => {
    const dir = scratchDir();
    const file = `${dir}/db.pending-charges`;
    const post: KeptSettlement = { kind: 'post', holdId: 4, charge: { usage: unitUsage(3) } };
    const lines = [
      JSON.stringify(post),
      '',
      '   ',
      'null',
      '{"kind":"void","holdId":"7"}',
      '{"kind":"void","holdId":1.5}',
      '{"kind":"refund","holdId":3}',
      '{"kind":"refund","holdId":9,"charge":{}}',
      '{"kind":"post","holdId":5}',
      '{"kind":"post","holdId":6,"charge":"x"}',
      '{"kind":"void","holdId":8}',
      '{"kind":"void","hol',
    ];
    fs.writeFileSync(file, lines.join('\n'));
    expect(readKeptSettlements(file)).toEqual([post, { kind: 'void', holdId: 8 }]);
  });

  it('is empty when there is no file, and an error when the file cannot be read', () => {
    const dir = scratchDir();
    expect(readKeptSettlements(`${dir}/none`)).toEqual([]);
    expect(() => readKeptSettlements(dir)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });

  it('lies beside a database file, and there is none for an in-memory ledger', () => {
    expect(ChargeJournal.beside(':memory:')).toBeNull();
    expect(ChargeJournal.beside('/data/creditgate.db')?.file).toBe('/data/creditgate.db.pending-charges');
  });

  it('goes once every settlement in it has landed, and not before', async () => {
    const file = `${scratchDir()}/db.pending-charges`;
    const journal = new ChargeJournal(file);
    await journal.append({ kind: 'void', holdId: 1 });
    await journal.append({ kind: 'void', holdId: 2 });
    journal.landed(99); // never kept here: nothing changes
    journal.landed(1);
    await journal.close(); // finishes what landed() queued
    expect(readKeptSettlements(file)).toEqual([{ kind: 'void', holdId: 1 }, { kind: 'void', holdId: 2 }]);
    expect(journal.pending).toBe(1);
    journal.landed(2);
    await journal.close();
    expect(fs.existsSync(file)).toBe(false);
    expect(journal.pending).toBe(0);
  });

  it('close() finishes an append under way and closes the file', async () => {
    const file = `${scratchDir()}/db.pending-charges`;
    const journal = new ChargeJournal(file);
    const appended = journal.append({ kind: 'void', holdId: 3 });
    await journal.close();
    expect(readKeptSettlements(file)).toEqual([{ kind: 'void', holdId: 3 }]);
    expect(openOn(file)).toBe(0);
    await appended;
  });

  it('rejects an append it cannot write, and writes the next one once it can', async () => {
    const dir = `${scratchDir()}/later`;
    const journal = new ChargeJournal(`${dir}/db.pending-charges`);
    await expect(journal.append({ kind: 'void', holdId: 1 })).rejects.toMatchObject({ code: 'ENOENT' });
    fs.mkdirSync(dir);
    await journal.append({ kind: 'void', holdId: 2 });
    expect(readKeptSettlements(journal.file).map((entry) => entry.holdId)).toEqual([2]);
    await journal.close();
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
