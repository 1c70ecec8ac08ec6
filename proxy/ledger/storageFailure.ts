/**
 * SQLite's failures in words a user can act on: which file, and what is wrong with it. The ledger
 * translates every SQLite error through here, so the gateway, the CLI and the editor all name the
 * cause and the database instead of a bare "internal error".
 */
import { LedgerError } from './errors';

export type StorageProblem = 'busy' | 'full' | 'read_only' | 'cannot_open' | 'corrupt' | 'io';

export class LedgerStorageError extends LedgerError {
  override readonly name = 'LedgerStorageError';
  constructor(
    readonly problem: StorageProblem,
    readonly databasePath: string,
    /** SQLite's extended result code, e.g. SQLITE_IOERR_WRITE. */
    readonly sqliteCode: string,
    message: string,
  ) {
    super('storage', message);
  }
}

/** SQLite's primary result codes (the extended ones start with these) and what each means here. */
const PROBLEM_BY_PRIMARY_CODE: Readonly<Record<string, StorageProblem>> = {
  SQLITE_BUSY: 'busy',
  SQLITE_LOCKED: 'busy',
  SQLITE_FULL: 'full',
  SQLITE_READONLY: 'read_only',
  SQLITE_CANTOPEN: 'cannot_open',
  SQLITE_PERM: 'cannot_open',
  SQLITE_CORRUPT: 'corrupt',
  SQLITE_NOTADB: 'corrupt',
  SQLITE_IOERR: 'io',
};

function describe(problem: StorageProblem, file: string, code: string): string {
  switch (problem) {
    case 'busy':
      return `the ledger database ${file} is locked by another process and stayed locked for longer than Creditgate waits (${code}); try again in a moment`;
    case 'full':
      return `the disk holding the ledger database ${file} is full (${code}); free some space, nothing can be recorded until then`;
    case 'read_only':
      return (
        `the ledger database ${file} is read-only (${code}); Creditgate needs write access to it, to its -wal and -shm files ` +
        'and to their directory'
      );
    case 'cannot_open':
      return `the ledger database ${file} cannot be opened (${code}); check that it and its directory exist and belong to this user`;
    case 'corrupt':
      return `the ledger database ${file} is damaged (${code}); restore it from a backup`;
    case 'io':
      return `the ledger database ${file} could not be read or written (${code}); check the disk it is on`;
  }
}

/** The storage failure `error` is, as a LedgerStorageError naming `file`; null when it is none. */
export function storageFailure(error: unknown, file: string): LedgerStorageError | null {
  if (error instanceof LedgerStorageError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  const primary = code.split('_', 2).join('_');
  const problem = PROBLEM_BY_PRIMARY_CODE[primary];
  return problem ? new LedgerStorageError(problem, file, code, describe(problem, file, code)) : null;
}

/** Runs `work`; a SQLite failure comes out as a LedgerStorageError naming `file`. */
export function translatingStorageFailures<T>(file: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw storageFailure(error, file) ?? error;
  }
}

/** Whether `error` is another process's lock keeping this one out (worth trying again later). */
export function isLockedOut(error: unknown): boolean {
  return error instanceof LedgerStorageError && error.problem === 'busy';
}
