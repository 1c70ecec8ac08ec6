/**
 * The data directory and the files Creditgate keeps in it, private to the user: the ledger holds the
 * account's money and its client token hashes, the lock file the gateway's instance id (gatewayLock.ts).
 * The directory is 0700 and every file in it 0600, set explicitly rather than through the umask; a
 * directory or file left wider by an older version is tightened, and the log says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './gateway/context';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export const DATABASE_FILE = 'creditgate.db';
export const LOCK_FILE = 'gateway.lock';

/** Everything Creditgate creates in the data directory (SQLite names its WAL files after the database). */
const OWN_FILES = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, LOCK_FILE];

/** Creates the data directory private, or makes an existing one and Creditgate's files in it private. */
export function preparePrivateDataDir(dir: string, log: Pick<Logger, 'warn'>): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  tighten(dir, PRIVATE_DIR_MODE, log);
  for (const name of OWN_FILES) tighten(path.join(dir, name), PRIVATE_FILE_MODE, log);
}

const octal = (mode: number): string => `0${mode.toString(8)}`;

/** Clears the permission bits `target` has beyond `allowed` (0444 stays read-only: 0400, not 0600). */
function tighten(target: string, allowed: number, log: Pick<Logger, 'warn'>): void {
  let current: number;
  try {
    current = fs.statSync(target).mode & 0o777;
  } catch {
    return; // not there (yet): it is created private
  }
  if ((current & ~allowed) === 0) return;
  const tightened = current & allowed;
  try {
    fs.chmodSync(target, tightened);
    log.warn(`${target} was open to other users (mode ${octal(current)}); tightened to ${octal(tightened)}`);
  } catch (error) {
    log.warn(`${target} is open to other users (mode ${octal(current)}) and could not be tightened: ${(error as Error).message}`);
  }
}
