/**
 * One gateway per data directory: a lock file naming the owner's pid and port. A second `serve`
 * learns who holds it; a lock left by a dead process is taken over.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from './processAlive';

export interface LockOwner {
  pid: number;
  port: number | null;
  startedAt: string;
}

export class GatewayRunningError extends Error {
  constructor(readonly owner: LockOwner) {
    super(
      `a Creditgate gateway is already running on this data directory (pid ${owner.pid}` +
        `${owner.port === null ? '' : `, http://127.0.0.1:${owner.port}`})`,
    );
  }
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'gateway.lock');
}

/** The live gateway owning this data directory, or null. */
export function readLockOwner(dataDir: string): LockOwner | null {
  try {
    const owner = JSON.parse(fs.readFileSync(lockPath(dataDir), 'utf8')) as LockOwner;
    return owner.pid !== process.pid && isProcessAlive(owner.pid) ? owner : null;
  } catch {
    return null;
  }
}

export class GatewayLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): GatewayLock {
    const file = lockPath(dataDir);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, port: null, startedAt: new Date().toISOString() }), { flag: 'wx' });
        return new GatewayLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = readLockOwner(dataDir);
        if (owner) throw new GatewayRunningError(owner);
        fs.rmSync(file, { force: true }); // stale: its process is gone
      }
    }
    throw new Error(`could not acquire ${file}`);
  }

  /** Records the port once the server listens, so others can find it. */
  setPort(port: number): void {
    const owner = JSON.parse(fs.readFileSync(this.file, 'utf8')) as LockOwner;
    fs.writeFileSync(this.file, JSON.stringify({ ...owner, port }));
  }

  release(): void {
    try {
      const owner = JSON.parse(fs.readFileSync(this.file, 'utf8')) as LockOwner;
      if (owner.pid === process.pid) fs.rmSync(this.file, { force: true });
    } catch {
      // already gone
    }
  }
}
