/**
 * Group commit: the ledger writes asked for during one turn of the event loop run together, in one
 * transaction, when the turn's I/O callbacks are done (setImmediate). Under load a turn handles many
 * requests, and a commit's fixed cost (file locks, WAL frames, a dozen system calls) then is paid once
 * for all of them instead of once per admit and once per post.
 *
 * Each write still runs as its own savepoint, so one that fails fails alone. A caller learns its
 * result only after the commit: the gateway forwards a request once its hold is on disk and ends a
 * response once its charge is, so a crash never loses a hold whose request went upstream.
 *
 * Another process holding the database locked (a CLI command, a sqlite3 shell) must not freeze the
 * gateway, and SQLite's busy wait blocks the thread it waits on: the event loop. The gateway's
 * connection therefore waits a few milliseconds at most (connection.ts), and writes that find the
 * database locked wait here instead, retried on a timer with backoff while the event loop serves
 * everything else. Each waits as long as its caller allows (`patienceMs`); a charge waits until it lands.
 */
import type { Ledger } from './ledger';
import { isLockedOut } from './storageFailure';

export interface WriteOptions {
  /** How long the write may wait for another process's lock, in ms; then it fails with the busy error. Default: no limit. */
  patienceMs?: number;
  /** Called once, when the write first finds the database locked (settlements.ts then journals a charge). */
  onWaiting?: () => void;
}

/** Backoff between tries while the database is locked: doubling from the first to the last. */
const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 100;

interface QueuedWrite {
  write: (ledger: Ledger) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Monotonic ms after which the write stops waiting for a lock. */
  deadline: number;
  onWaiting: (() => void) | undefined;
  waited: boolean;
}

interface Outcome {
  queued: QueuedWrite;
  ok: boolean;
  value: unknown;
}

export class GroupCommit {
  private queue: QueuedWrite[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  /** Set while the database is locked: the next try. */
  private retry: NodeJS.Timeout | null = null;
  private retryDelay = 0;
  /** The error the last locked try failed with, for the writes that stop waiting. */
  private lockError: unknown = null;

  constructor(
    private readonly ledger: Ledger,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  /** Runs `write` in this turn's transaction; settles once that transaction has committed (or failed). */
  run<T>(write: (ledger: Ledger) => T, options: WriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(this.queued(write, resolve as (value: unknown) => void, reject, options));
      // While the database is locked the retry timer flushes: a try of every turn would only block the loop again.
      if (this.retry === null) this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /**
   * Runs `write` at once, for a caller that should not wait for the turn's other callbacks (a stream's
   * first token waits on its hold). The writes already queued for this turn commit with it, in one
   * transaction instead of two (under 32 streams most admissions find a charge queued). While the
   * database is locked it waits in the queue like the others.
   */
  runNow<T>(write: (ledger: Ledger) => T, options: WriteOptions = {}): Promise<T> {
    if (this.retry !== null) return this.run(write, options);
    const result = new Promise<T>((resolve, reject) => {
      this.queue.push(this.queued(write, resolve as (value: unknown) => void, reject, options));
    });
    this.flush();
    return result;
  }

  /** Writes waiting for another process's lock to go. */
  get waiting(): number {
    return this.retry === null ? 0 : this.queue.length;
  }

  /** Commits what is queued now (also called before the ledger closes). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      // A write alone is a transaction of its own already: no savepoint inside another transaction.
      outcomes = queue.length === 1 ? [attempt(queue[0]!, this.ledger)] : this.ledger.batch(() => queue.map((queued) => attempt(queued, this.ledger)));
    } catch (error) {
      if (isLockedOut(error)) return this.wait(queue, error);
      // The commit failed: none of the writes happened.
      for (const queued of queue) queued.reject(error);
      return;
    }
    const alone = outcomes.length === 1 ? outcomes[0]! : null;
    if (alone && !alone.ok && isLockedOut(alone.value)) return this.wait(queue, alone.value);
    this.retryDelay = 0;
    for (const { queued, ok, value } of outcomes) {
      if (ok) queued.resolve(value);
      else queued.reject(value);
    }
  }

  /**
   * Stops for good (the ledger is about to close): one last try, then whatever still waits fails with
   * the lock's error. Settlements kept in the journal survive that (settlements.ts).
   */
  close(): void {
    this.flush();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const left = this.queue;
    this.queue = [];
    for (const queued of left) queued.reject(this.lockError);
  }

  private queued(write: (ledger: Ledger) => unknown, resolve: (value: unknown) => void, reject: (error: unknown) => void, options: WriteOptions): QueuedWrite {
    const deadline = this.monotonic() + (options.patienceMs ?? Infinity);
    return { write, resolve, reject, deadline, onWaiting: options.onWaiting, waited: false };
  }

  /** The database is locked: these writes wait for the next try, but those whose caller waits no longer fail now. */
  private wait(locked: QueuedWrite[], error: unknown): void {
    this.lockError = error;
    const now = this.monotonic();
    const still: QueuedWrite[] = [];
    for (const queued of locked) {
      if (queued.deadline <= now) {
        queued.reject(error);
        continue;
      }
      if (!queued.waited) {
        queued.waited = true;
        queued.onWaiting?.();
      }
      still.push(queued);
    }
    // Older writes first, then those queued meanwhile.
    this.queue = still.concat(this.queue);
    if (this.queue.length === 0) return;
    this.retryDelay = Math.min(MAX_RETRY_MS, this.retryDelay === 0 ? FIRST_RETRY_MS : this.retryDelay * 2);
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => this.flush(), this.retryDelay);
  }
}

function attempt(queued: QueuedWrite, ledger: Ledger): Outcome {
  try {
    return { queued, ok: true, value: queued.write(ledger) };
  } catch (error) {
    return { queued, ok: false, value: error };
  }
}
