/**
 * The ledger's file and the data directory on disk: created private and whole, refused when it is not
 * a ledger, tightened when an older version left it open (proxy/ledger/databaseFile.ts, proxy/dataDir.ts).
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { preparePrivateDataDir } from '../proxy/dataDir';
import { GatewayLock, readLockOwner } from '../proxy/gatewayLock';
import { Ledger, LedgerError } from '../proxy/ledger/ledger';
import { SCHEMA_VERSION } from '../proxy/ledger/schema';
import { RATE_CARD, TEST_PLANS, tempDir } from './fixtures/ledger-setup';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;
const open = (file: string): Ledger => Ledger.open({ path: file, rateCard: RATE_CARD, plans: TEST_PLANS, initialPlan: 'tiny' });

function openError(file: string): LedgerError {
  try {
    open(file).close();
  } catch (error) {
    if (error instanceof LedgerError) return error;
    throw error;
  }
  throw new Error('expected the ledger to be refused');
}

describe('a new ledger file', () => {
  it('is created 0600 whatever the umask, fully migrated, with no temporary file left', () => {
    const file = path.join(freshDir(), 'ledger.db');
    const previous = process.umask(0);
    let ledger: Ledger;
    try {
      ledger = open(file);
      ledger.addCredits({ amount: 1, idempotencyKey: 'k', source: 'purchase' });
    } finally {
      process.umask(previous);
    }
    // SQLite gives its -wal and -shm files the mode of the database file.
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['ledger.db', 'ledger.db-shm', 'ledger.db-wal']);
    for (const name of fs.readdirSync(path.dirname(file))) expect([name, modeOf(path.join(path.dirname(file), name))]).toEqual([name, 0o600]);
    ledger.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();
  });

  it('is opened, not made again, once another connection created it', () => {
    const file = path.join(freshDir(), 'ledger.db');
    const first = open(file);
    first.addCredits({ amount: 5, idempotencyKey: 'k', source: 'purchase' });
    const second = open(file);
    expect(second.status().credits.balance).toBe(first.status().credits.balance);
    first.close();
    second.close();
  });

  it('accepts an empty SQLite database (no tables, version 0): a ledger whose creation never committed', () => {
    const file = path.join(freshDir(), 'ledger.db');
    const raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    raw.close();
    expect(fs.statSync(file).size).toBeGreaterThan(0);
    const ledger = open(file);
    expect(ledger.status().plan).toBe('tiny');
    ledger.close();
  });
});

describe('a file that is not a ledger', () => {
  it('refuses a zero-length file by its path, and leaves it empty', () => {
    const file = path.join(freshDir(), 'ledger.db');
    fs.writeFileSync(file, '');
    expect(openError(file)).toMatchObject({ code: 'not_a_ledger', message: expect.stringContaining(`the ledger database ${file} is empty (0 bytes)`) });
    expect(fs.statSync(file).size).toBe(0);
  });

  it('refuses a file that is not SQLite, and SQLite files without the ledger schema', () => {
    const dir = freshDir();
    const text = path.join(dir, 'text.db');
    fs.writeFileSync(text, 'not a database at all');
    expect(openError(text).message).toBe(`${text} is not a SQLite database, so not a Creditgate ledger; move it away or use another data directory`);

    const unversioned = path.join(dir, 'other.db');
    const other = new Database(unversioned);
    other.exec('CREATE TABLE account (id INTEGER)');
    other.close();
    expect(openError(unversioned).message).toContain(`${unversioned} is a SQLite database but not a Creditgate ledger (schema version 0, unversioned)`);

    const versioned = path.join(dir, 'versioned.db');
    const app = new Database(versioned);
    app.exec('CREATE TABLE settings (k, v)');
    app.pragma('user_version = 2');
    app.close();
    expect(openError(versioned).message).toContain('(schema version 2, no account table)');
  });
});

describe('the data directory', () => {
  const log = () => {
    const lines: string[] = [];
    return { lines, warn: (line: string) => void lines.push(line) };
  };

  it('is created 0700, parents included', () => {
    const dir = path.join(freshDir(), 'a', 'b');
    const logged = log();
    preparePrivateDataDir(dir, logged);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(path.dirname(dir))).toBe(0o700);
    expect(logged.lines).toEqual([]);
  });

  it("tightens the directory and Creditgate's files left open by an older version, keeps a read-only file read-only, and leaves other files alone", () => {
    const dir = freshDir();
    fs.chmodSync(dir, 0o755);
    for (const [name, mode] of [['creditgate.db', 0o644], ['creditgate.db-wal', 0o666], ['gateway.lock', 0o444], ['config.json', 0o644]] as const) {
      fs.writeFileSync(path.join(dir, name), '');
      fs.chmodSync(path.join(dir, name), mode);
    }
    const logged = log();
    preparePrivateDataDir(dir, logged);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(path.join(dir, 'creditgate.db'))).toBe(0o600);
    expect(modeOf(path.join(dir, 'creditgate.db-wal'))).toBe(0o600);
    expect(modeOf(path.join(dir, 'gateway.lock'))).toBe(0o400);
    expect(modeOf(path.join(dir, 'config.json'))).toBe(0o644);
    expect(logged.lines).toEqual([
      `${dir} was open to other users (mode 0755); tightened to 0700`,
      `${path.join(dir, 'creditgate.db')} was open to other users (mode 0644); tightened to 0600`,
      `${path.join(dir, 'creditgate.db-wal')} was open to other users (mode 0666); tightened to 0600`,
      `${path.join(dir, 'gateway.lock')} was open to other users (mode 0444); tightened to 0400`,
    ]);
  });
});

describe('the gateway lock file', () => {
  it('is 0600 and holds the pid, the port and an instance id unique to each gateway', () => {
    const dir = freshDir();
    const lock = GatewayLock.acquire(dir);
    lock.setPort(8788);
    const file = path.join(dir, 'gateway.lock');
    expect(modeOf(file)).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, port: 8788, instance: lock.instance });
    lock.release();
    const next = GatewayLock.acquire(dir);
    expect(next.instance).not.toBe(lock.instance);
    next.release();
    expect(readLockOwner(dir)).toBeNull();
  });
});
