/**
 * Opens the SQLite file with the settings every process sharing it must agree on. The figures below
 * were measured with test/bench/ledger-bench.ts on this project's 2-core machine.
 */
import Database from 'better-sqlite3';

/**
 * Each commit appends every page it dirtied to the WAL, and a post dirties three (account, hold, usage
 * row) whose content is a few hundred bytes: 1 KiB pages cut the bytes copied and checksummed per
 * commit, worth ~20% more admit+post pairs/s than 4 KiB. Takes effect only when the file is created.
 */
const PAGE_SIZE = 1_024;

/**
 * WAL pages between automatic checkpoints (8 MiB at 1 KiB pages). A checkpoint fsyncs; measured, the
 * throughput barely moved between 1,000 and 16,000 pages, so this stays moderate to keep readers'
 * WAL lookups and the file size small. journal_size_limit truncates the WAL back after a checkpoint.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 8_000;
const JOURNAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;

/**
 * SQLite's page cache, in KiB. better-sqlite3 builds SQLite with a 16 MiB default, which a gateway
 * fills within minutes of traffic (the usage table only grows) and then keeps as resident memory. The
 * hot pages are few (the account row, the holds, the right edge of the usage B-trees); the rest is a
 * pread from the OS page cache away. 2 MiB is SQLite's own default.
 */
const PAGE_CACHE_KIB = 2_048;

/**
 * How long a writer waits for another process's transaction before giving up with SQLITE_BUSY (the
 * CLI and the gateway then report the ledger as locked). Transactions here last milliseconds; only a
 * stuck process or a long manual transaction in the sqlite3 shell holds the lock this long.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/**
 * The busy wait of a connection whose thread runs an event loop (the gateway): SQLite sleeps on the
 * calling thread, so a longer wait would freeze every request and stream. Writes that find the
 * database locked wait asynchronously instead (groupCommit.ts); the others fail as busy at once.
 */
export const EVENT_LOOP_BUSY_TIMEOUT_MS = 5;

export interface DatabaseSettings {
  busyTimeoutMs?: number;
}

export function openDatabase(path: string, settings: DatabaseSettings = {}): Database.Database {
  const db = new Database(path);
  db.pragma(`busy_timeout = ${Math.trunc(settings.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)}`);
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  // In WAL mode NORMAL survives a process crash (kill -9); only an OS crash or power loss can lose the
  // last commits. That is the documented durability trade-off.
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  return db;
}
