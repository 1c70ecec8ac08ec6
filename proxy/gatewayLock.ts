/**
 * One gateway per data directory: a lock file naming the owner's pid, port and instance id. A second
 * `serve` learns who holds it; a lock left by a dead process is taken over. The instance id is what
 * the owner's /healthz answers with: only a process that can read the (private) data directory can
 * tell which data directory a gateway on a port serves.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../shared/zod';
import { LOCK_FILE, PRIVATE_FILE_MODE } from './dataDir';
import { isProcessAlive } from './processAlive';

const lockOwnerSchema = z.object({
  pid: z.number().check(z.int(), z.positive()),
  port: z.nullable(z.number().check(z.int(), z.gte(0))),
  startedAt: z.string(),
  // Absent from the lock files of gateways older than the instance id: such a gateway matches no /healthz.
  instance: z.optional(z.string().check(z.minLength(1))),
});

export type LockOwner = z.infer<typeof lockOwnerSchema>;

export class GatewayRunningError extends Error {
  constructor(readonly owner: LockOwner) {
    super(
      `a Creditgate gateway is already running on this data directory (pid ${owner.pid}` +
        `${owner.port === null ? '' : `, http://127.0.0.1:${owner.port}`})`,
    );
  }
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, LOCK_FILE);
}

function readLockFile(file: string): LockOwner | null {
  try {
    const parsed = lockOwnerSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The live gateway (another process) owning this data directory, or null. */
export function readLockOwner(dataDir: string): LockOwner | null {
  const owner = readLockFile(lockPath(dataDir));
  return owner && owner.pid !== process.pid && isProcessAlive(owner.pid) ? owner : null;
}

/** An id no other gateway shares, published by /healthz; unguessable, so it names nothing. */
function newInstanceId(): string {
  return randomBytes(16).toString('hex');
}

export class GatewayLock {
  private constructor(
    private readonly file: string,
    private owner: LockOwner & { instance: string },
  ) {}

  static acquire(dataDir: string): GatewayLock {
    const file = lockPath(dataDir);
    for (let attempt = 0; attempt < 3; attempt++) {
      const owner = { pid: process.pid, port: null, startedAt: new Date().toISOString(), instance: newInstanceId() };
      try {
        fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx', mode: PRIVATE_FILE_MODE });
        return new GatewayLock(file, owner);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const current = readLockOwner(dataDir);
        if (current) throw new GatewayRunningError(current);
        fs.rmSync(file, { force: true }); // stale (its process is gone) or unreadable
      }
    }
    throw new Error(`could not acquire ${file}`);
  }

  /** What /healthz answers with, so that others can match the port to this lock file. */
  get instance(): string {
    return this.owner.instance;
  }

  /** Records the port once the server listens, so others can find it. */
  setPort(port: number): void {
    this.owner = { ...this.owner, port };
    fs.writeFileSync(this.file, JSON.stringify(this.owner), { mode: PRIVATE_FILE_MODE });
  }

  release(): void {
    if (readLockFile(this.file)?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}
