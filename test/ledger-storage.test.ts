/**
 * SQLite's failures, named: the mapping from SQLite's result codes to a cause and a message naming the
 * database (proxy/ledger/storageFailure.ts), the ledger translating real failures, and the gateway's
 * answer for each cause (proxy/gateway/failures.ts).
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, OperationError } from '../proxy/accountOperations';
import { failureAnswer } from '../proxy/gateway/failures';
import { LedgerStorageError } from '../proxy/ledger/ledger';
import type { StorageProblem } from '../proxy/ledger/storageFailure';
import { storageFailure } from '../proxy/ledger/storageFailure';
import type { TempLedger } from './fixtures/ledger-setup';
import { openTemp, request } from './fixtures/ledger-setup';

let t: TempLedger | null = null;
afterEach(() => {
  t?.cleanup();
  t = null;
});

const sqliteError = (code: string): Error => Object.assign(new Error('sqlite says'), { code });

describe('storageFailure', () => {
  it('names the cause and the file for each SQLite failure, extended codes included', () => {
    const cases: [string, StorageProblem, RegExp][] = [
      ['SQLITE_BUSY', 'busy', /^the ledger database \/d\/c\.db is locked by another process .*\(SQLITE_BUSY\)/],
      ['SQLITE_BUSY_SNAPSHOT', 'busy', /locked by another process/],
      ['SQLITE_LOCKED', 'busy', /locked by another process/],
      ['SQLITE_FULL', 'full', /^the disk holding the ledger database \/d\/c\.db is full \(SQLITE_FULL\)/],
      ['SQLITE_READONLY', 'read_only', /^the ledger database \/d\/c\.db is read-only \(SQLITE_READONLY\)/],
      ['SQLITE_READONLY_DBMOVED', 'read_only', /is read-only \(SQLITE_READONLY_DBMOVED\)/],
      ['SQLITE_CANTOPEN', 'cannot_open', /^the ledger database \/d\/c\.db cannot be opened/],
      ['SQLITE_CORRUPT', 'corrupt', /^the ledger database \/d\/c\.db is damaged \(SQLITE_CORRUPT\)/],
      ['SQLITE_NOTADB', 'corrupt', /is damaged/],
      ['SQLITE_IOERR_WRITE', 'io', /^the ledger database \/d\/c\.db could not be read or written \(SQLITE_IOERR_WRITE\)/],
    ];
    for (const [code, problem, message] of cases) {
      const failure = storageFailure(sqliteError(code), '/d/c.db');
      expect(failure).toBeInstanceOf(LedgerStorageError);
      expect(failure).toMatchObject({ problem, databasePath: '/d/c.db', sqliteCode: code, code: 'storage' });
      expect(failure!.message).toMatch(message);
    }
  });

  it('is null for what is not a storage failure', () => {
    for (const error of [new Error('x'), sqliteError('SQLITE_CONSTRAINT_UNIQUE'), sqliteError('ENOENT'), null, 'text']) {
      expect(storageFailure(error, '/d/c.db')).toBeNull();
    }
  });
});

describe('the ledger', () => {
  it('reports a write that waited out another connection\'s lock as busy, naming the file, and works again once it is released', () => {
    t = openTemp({ busyTimeoutMs: 50 });
    const ledger = t.ledger;
    const other = new Database(t.path);
    other.exec('BEGIN EXCLUSIVE');
    try {
      expect(() => ledger.admit(request(1))).toThrow(LedgerStorageError);
      expect(() => ledger.addCredits({ amount: 1, idempotencyKey: 'k', source: 'purchase' })).toThrow(
        `the ledger database ${t.path} is locked by another process`,
      );
      expect(ledger.status().plan).toBe('tiny'); // reads are not blocked (WAL)
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(ledger.admit(request(1)).admitted).toBe(true);
  });

  it('reports a full database as full (the disk limit simulated with max_page_count)', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x)');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    let caught: unknown;
    try {
      db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100_000));
    } catch (error) {
      caught = error;
    }
    db.close();
    expect(storageFailure(caught, '/d/c.db')).toMatchObject({ problem: 'full', sqliteCode: 'SQLITE_FULL' });
  });
});

describe("the gateway's answer", () => {
  const storage = (problem: StorageProblem): LedgerStorageError => new LedgerStorageError(problem, '/d/c.db', 'SQLITE_X', `the ledger database /d/c.db is ${problem}`);

  it('is 503 with Retry-After for busy, 507 for a full disk, 500 for the rest, each naming the cause and not to be retried', () => {
    expect(failureAnswer(storage('busy'))).toEqual({ kind: 'ledger_busy', message: 'The ledger database /d/c.db is busy.', headers: { 'retry-after': '1' } });
    const noRetry = { 'x-should-retry': 'false' };
    expect(failureAnswer(storage('full'))).toEqual({ kind: 'ledger_full', message: 'The ledger database /d/c.db is full.', headers: noRetry });
    for (const problem of ['read_only', 'cannot_open', 'corrupt', 'io'] as const) {
      expect(failureAnswer(storage(problem))).toEqual({ kind: 'internal', message: `The ledger database /d/c.db is ${problem}.`, headers: noRetry });
    }
  });

  it("is 409 for a conflict, 400 for the caller's other mistakes, and nothing for a bug", () => {
    expect(failureAnswer(new ConflictError('key reused'))).toEqual({ kind: 'conflict', message: 'key reused' });
    expect(failureAnswer(new OperationError('bad amount'))).toEqual({ kind: 'invalid_request', message: 'bad amount' });
    expect(failureAnswer(new TypeError('undefined is not a function'))).toBeNull();
  });
});
