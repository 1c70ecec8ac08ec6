/**
 * A post appends its usage row without rewriting the account row, so every reader folds the rows
 * after the stored totals into them (proxy/ledger/fold.ts). When the writer's fold is wrong, its own
 * check rewrites the row and hides the mistake; these tests read a file whose newest rows really are
 * unfolded, from a second connection and from a second process, and compare with known answers.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FOLD_LIMIT } from '../proxy/ledger/fold';
import { Ledger } from '../proxy/ledger/ledger';
import type { TempLedger } from './fixtures/ledger-setup';
import { HOUR, RATE_CARD, T0, TEST_PLANS, openTemp, request, unitUsage } from './fixtures/ledger-setup';

const READER = join(__dirname, 'fixtures', 'fold-reader.ts');
const iso = (ms: number): string => new Date(ms).toISOString();
const DAY = 24 * HOUR;

let t: TempLedger;
afterEach(() => t?.cleanup());

function admitted(estimate: number, feature = 'assistant'): number {
  const a = t.ledger.admit(request(estimate, feature));
  if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
  return a.holdId;
}

type AccountRow = Record<string, number | string | null>;

function accountRow(path: string): AccountRow {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT * FROM account').get() as AccountRow;
  } finally {
    db.close();
  }
}

/** Stores `row` as the account row, as a process whose fold is right would have left it. */
function pinAccountRow(path: string, row: AccountRow): void {
  const db = new Database(path);
  try {
    const columns = Object.keys(row).filter((column) => column !== 'id');
    db.prepare(`UPDATE account SET ${columns.map((column) => `${column} = @${column}`).join(', ')} WHERE id = 1`).run(row);
  } finally {
    db.close();
  }
}

/**
 * On the tiny plan (5h: 1,000, weekly: 3,000 micro-credits) with 10,000 of credits, three posts one
 * second apart: 300 on the plan; 900 of which the plan takes its last 700 and credits the other 200;
 * 50 for a feature the plan does not cover, on credits. Only the first admission (which opened the
 * windows) writes the account row: the rows carry everything since. Returns the row as it wrote it.
 */
function writeUnfoldedRows(): AccountRow {
  t = openTemp();
  t.ledger.addCredits({ amount: 10_000, idempotencyKey: 'k', source: 'purchase' });
  const first = admitted(100);
  const afterAdmission = accountRow(t.path);
  t.ledger.post(first, { usage: unitUsage(300) });
  t.clock.advance(1_000);
  t.ledger.post(admitted(100), { usage: unitUsage(900) });
  t.clock.advance(1_000);
  t.ledger.post(admitted(50, 'images'), { usage: unitUsage(50) });
  t.clock.advance(1_000);
  return afterAdmission;
}

/**
 * The same file, whatever this process's writer did: a wrong fold makes the writer's own check
 * rewrite the account row, which would hide the mistake from every reader.
 */
function fileWithUnfoldedRows(): void {
  const afterAdmission = writeUnfoldedRows();
  pinAccountRow(t.path, afterAdmission);
}

/** What the three rows imply for a reader on top of the stored row. */
const EXPECTED = {
  credits: { balance: 0.00975, held: 0, available: 0.00975 },
  windows: [0.001, 0.001],
  // Hold ids 1..3 went to the rows (the stored row knows only of 1): the next one is 4.
  holdId: 4,
  // The reader's clock is behind the newest row: its post is stamped no earlier than that row.
  postedTs: iso(T0 + 2_000),
};
const READER_CLOCK = T0 - 60_000;

/** Under mutation testing (stryker/) the active mutant is chosen inside this process: pass it on, so the child runs it too. */
function childEnv(): NodeJS.ProcessEnv {
  const active = (globalThis as { __stryker__?: { activeMutant?: string } }).__stryker__?.activeMutant;
  return active === undefined ? process.env : { ...process.env, __STRYKER_ACTIVE_MUTANT__: active };
}

describe('folding usage rows written after the stored totals', () => {
  it('leaves the account row as the first admission wrote it: the rows alone carry the posts', () => {
    const afterAdmission = writeUnfoldedRows();
    expect(afterAdmission).toMatchObject({ balance: 10_000, five_hour_used: 0, weekly_used: 0, last_hold_id: 1, last_usage_ts: 0, totals_usage_id: 0 });
    expect(accountRow(t.path)).toEqual(afterAdmission);
    expect(t.ledger.usageRows({})).toHaveLength(3);
  });

  it('a second connection sees exactly the balance, windows, hold ids and last usage time the rows imply', () => {
    fileWithUnfoldedRows();
    const reader = Ledger.open({ path: t.path, rateCard: RATE_CARD, plans: TEST_PLANS, clock: () => READER_CLOCK });
    try {
      const status = reader.status();
      const admission = reader.admit(request(1));
      if (!admission.admitted) throw new Error(`blocked: ${admission.reason}`);
      const { usageId } = reader.post(admission.holdId, { usage: unitUsage(1) });
      const posted = reader.usageRows({}).find((row) => row.id === usageId)!;
      expect({ credits: status.credits, windows: status.windows.map((w) => w.used), holdId: admission.holdId, postedTs: posted.ts }).toEqual(EXPECTED);
    } finally {
      reader.close();
    }
    // The writer, whose cached totals the reader's post made stale, agrees.
    expect(t.ledger.status().credits.balance).toBe(0.009749);
  });

  it('a second process sees the same', async () => {
    fileWithUnfoldedRows();
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', READER, t.path, String(READER_CLOCK)], { env: childEnv() });
    expect(JSON.parse(stdout)).toEqual(EXPECTED);
  });

  it('folds rows into the windows its own plans define, even one the writer’s plans leave closed', () => {
    // The writer's tiny plan has the weekly window only; this reader's has both (another config).
    t = openTemp({ plans: { ...TEST_PLANS, tiny: TEST_PLANS.weeklyOnly! } });
    t.ledger.post(admitted(10), { usage: unitUsage(300) });
    t.ledger.post(admitted(10), { usage: unitUsage(200) });
    const reader = Ledger.open({ path: t.path, rateCard: RATE_CARD, plans: TEST_PLANS, clock: t.clock.read });
    try {
      // No 5h period was ever opened: it shows nothing used rather than failing.
      expect(reader.status().windows.map((w) => [w.name, w.used, w.resetsAt])).toEqual([
        ['5h', 0, null],
        ['weekly', 0.0005, iso(T0 + 7 * 24 * 3_600_000)],
      ]);
    } finally {
      reader.close();
    }
  });


  it('rewrites the account row once FOLD_LIMIT rows wait to be folded, so no reader folds more', () => {
    t = openTemp();
    t.ledger.addCredits({ amount: 1_000_000, idempotencyKey: 'k', source: 'promo', expiresAt: T0 + 30 * DAY });
    const postTwo = (): number => t.ledger.post(admitted(1), { usage: unitUsage(2) }).usageId;
    for (let i = 0; i < 200; i++) postTwo();
    t.clock.advance(5 * HOUR);
    postTwo(); // opens the next 5h period: the whole row is written, totals up to row 200
    expect(accountRow(t.path)).toMatchObject({ totals_usage_id: 200, five_hour_used: 0, weekly_used: 400 });
    // 500 more fill the 5h window, the last 499 go to credits; none of them writes the row.
    for (let i = 1; i < FOLD_LIMIT - 1; i++) postTwo();
    expect(accountRow(t.path)).toMatchObject({ totals_usage_id: 200, balance: 1_000_000 });
    t.clock.advance(1_000);
    postTwo();
    // FOLD_LIMIT rows after the stored ones: every running total as the rows make it, in one write.
    expect(accountRow(t.path)).toMatchObject({
      totals_usage_id: 200 + FOLD_LIMIT,
      balance: 1_000_000 - 1_000,
      debt: 0,
      last_hold_id: 200 + FOLD_LIMIT,
      last_usage_ts: T0 + 5 * HOUR + 1_000,
      next_expiry: T0 + 30 * DAY,
      five_hour_used: 1_000,
      weekly_used: 1_400,
    });
    postTwo();
    expect(accountRow(t.path)).toMatchObject({ totals_usage_id: 200 + FOLD_LIMIT });
  });
});

describe('a post that opens a new period', () => {
  function admittedNow(): number {
    const a = t.ledger.admit(request(1));
    if (!a.admitted) throw new Error(`blocked: ${a.reason}`);
    return a.holdId;
  }

  /** Admits a second before `end`, posts `cost` a second after it: the post opens the next period itself. */
  function postAcross(end: number, cost: number): void {
    t.clock.now = end - 1_000;
    const holdId = admittedNow();
    t.clock.now = end + 1_000;
    t.ledger.post(holdId, { usage: unitUsage(cost) });
  }

  function windowsSeenByAnother(): [string, number, string | null][] {
    const other = t.reopenAlongside();
    try {
      return other.status().windows.map((w) => [w.name, w.used, w.resetsAt]);
    } finally {
      other.close();
    }
  }

  it('stores it, so another connection sees the new 5h period and not the ended one', () => {
    t = openTemp(); // tiny: 5h 1,000, weekly 3,000 micro-credits
    t.ledger.post(admittedNow(), { usage: unitUsage(100) }); // opens both windows at T0
    postAcross(T0 + 5 * HOUR, 200);
    expect(windowsSeenByAnother()).toEqual([
      ['5h', 0.0002, iso(T0 + 5 * HOUR + 1_000 + 5 * HOUR)],
      ['weekly', 0.0003, iso(T0 + 7 * DAY)],
    ]);
  });

  it('stores it, so another connection sees the new weekly period and not the ended one', () => {
    t = openTemp();
    t.ledger.post(admittedNow(), { usage: unitUsage(100) }); // opens both windows at T0
    t.clock.now = T0 + 7 * DAY - HOUR;
    t.ledger.post(admittedNow(), { usage: unitUsage(100) }); // a new 5h period, the weekly one still open
    postAcross(T0 + 7 * DAY, 200);
    expect(windowsSeenByAnother()).toEqual([
      ['5h', 0.0003, iso(T0 + 7 * DAY - HOUR + 5 * HOUR)],
      ['weekly', 0.0002, iso(T0 + 7 * DAY + 1_000 + 7 * DAY)],
    ]);
  });
});
