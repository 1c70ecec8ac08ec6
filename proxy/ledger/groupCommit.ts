/**
 * Group commit: the ledger writes asked for during one turn of the event loop run together, in one
 * transaction, when the turn's I/O callbacks are done (setImmediate). Under load a turn handles many
 * requests, and a commit's fixed cost (file locks, WAL frames, a dozen system calls) then is paid once
 * for all of them instead of once per admit and once per post.
 *
 * Each write still runs as its own savepoint, so one that fails fails alone. A caller learns its
 * result only after the commit: the gateway forwards a request once its hold is on disk and ends a
 * response once its charge is, so a crash never loses a hold whose request went upstream.
 */
import type { Ledger } from './ledger';

interface QueuedWrite {
  write: (ledger: Ledger) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Outcome {
  queued: QueuedWrite;
  ok: boolean;
  value: unknown;
}

export class GroupCommit {
  private queue: QueuedWrite[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly ledger: Ledger) {}

  /** Runs `write` in this turn's transaction; settles once that transaction has committed (or failed). */
  run<T>(write: (ledger: Ledger) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is queued now (also called before the ledger closes). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      // A write alone is a transaction of its own already: no savepoint inside another transaction.
      outcomes = queue.length === 1 ? [attempt(queue[0]!, this.ledger)] : this.ledger.batch(() => queue.map((queued) => attempt(queued, this.ledger)));
    } catch (error) {
      // The commit failed: none of the writes happened.
      for (const queued of queue) queued.reject(error);
      return;
    }
    for (const { queued, ok, value } of outcomes) {
      if (ok) queued.resolve(value);
      else queued.reject(value);
    }
  }
}

function attempt(queued: QueuedWrite, ledger: Ledger): Outcome {
  try {
    return { queued, ok: true, value: queued.write(ledger) };
  } catch (error) {
    return { queued, ok: false, value: error };
  }
}
