/**
 * The ledger's file on disk. A missing file becomes a new ledger, made private (0600) and whole before
 * any other process can see it; an existing file is opened only when it is a Creditgate ledger. A
 * zero-length file is refused: SQLite would silently start an empty database in it, and an account
 * whose file was truncated would read as a new account with nothing bought.
 */
import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { PRIVATE_FILE_MODE } from '../dataDir';
import type { DatabaseSettings } from './connection';
import { openDatabase } from './connection';
import { LedgerError } from './errors';
import { migrate } from './schema';
import { LedgerStorageError } from './storageFailure';

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** Where a hard link cannot be made (some network and FAT file systems), the new file is copied instead. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Opens the ledger database at `file`, creating a new ledger when there is no file. */
export function openLedgerDatabase(file: string, settings: DatabaseSettings = {}): Database.Database {
  if (file === ':memory:') return openDatabase(file, settings);
  try {
    if (!fs.existsSync(file)) createLedgerFile(file, settings);
    checkLooksLikeSqlite(file);
  } catch (error) {
    throw fileSystemFailure(error, file);
  }
  const db = openDatabase(file, settings);
  try {
    db.transaction(() => checkIsLedger(db, file)).deferred();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Builds the new ledger in a private temporary file (SQLite gives its -wal and -shm files the same
 * mode) and links it into place: the link fails if another process made the file first, and nobody
 * ever sees a zero-length or half-migrated ledger.
 */
function createLedgerFile(file: string, settings: DatabaseSettings): void {
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.new`;
  try {
    fs.closeSync(fs.openSync(temp, 'wx', PRIVATE_FILE_MODE));
    const db = openDatabase(temp, settings);
    try {
      migrate(db);
    } finally {
      db.close();
    }
    publish(temp, file);
  } finally {
    for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) fs.rmSync(leftover, { force: true });
  }
}

function publish(temp: string, file: string): void {
  try {
    fs.linkSync(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return; // another process created it first: that one is the ledger
    if (!LINK_UNSUPPORTED.has(code)) throw error;
    try {
      fs.copyFileSync(temp, file, fs.constants.COPYFILE_EXCL);
    } catch (copyError) {
      if ((copyError as NodeJS.ErrnoException).code !== 'EEXIST') throw copyError;
    }
  }
}

/** A file system error (errno) on the way to opening `file`, as a storage failure naming it. */
function fileSystemFailure(error: unknown, file: string): unknown {
  const { code, syscall } = error as NodeJS.ErrnoException;
  // Only Node's own system call errors: the ledger names SQLite's failures, and LedgerErrors name themselves.
  if (typeof code !== 'string' || syscall === undefined) return error;
  if (code === 'ENOSPC') return new LedgerStorageError('full', file, code, `the disk holding the ledger database ${file} is full (${code})`);
  return new LedgerStorageError(
    'cannot_open',
    file,
    code,
    `the ledger database ${file} cannot be opened or created (${code}); check that it and its directory belong to this user`,
  );
}

function checkLooksLikeSqlite(file: string): void {
  const fd = fs.openSync(file, 'r');
  let header: Buffer;
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
    header = Buffer.alloc(SQLITE_HEADER.length);
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (size === 0) {
    throw new LedgerError(
      'not_a_ledger',
      `the ledger database ${file} is empty (0 bytes): the account's data is not in it. Restore the file from a backup; ` +
        'to start a new ledger instead, move the empty file away first',
    );
  }
  if (!header.equals(SQLITE_HEADER)) {
    throw new LedgerError('not_a_ledger', `${file} is not a SQLite database, so not a Creditgate ledger; move it away or use another data directory`);
  }
}

/**
 * A ledger has its schema version in user_version and an `account` table. A SQLite file with neither
 * and no tables at all is an empty database (a ledger whose creation never committed): nothing to lose.
 */
function checkIsLedger(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all();
  if (version === 0 && tables.length === 0) return;
  if (version > 0 && tables.includes('account')) return;
  throw new LedgerError(
    'not_a_ledger',
    `${file} is a SQLite database but not a Creditgate ledger (schema version ${version}, ` +
      `${tables.includes('account') ? 'unversioned' : 'no account table'}); move it away or use another data directory`,
  );
}
