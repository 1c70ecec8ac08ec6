/**
 * Pushes the account's status to whoever listens (the extension over JSON-RPC, other windows over
 * the gateway's SSE endpoint) within a fraction of the 250 ms budget of docs/product.md §2. Changes made in
 * this process announce themselves; changes made by other processes on the same database (CLI
 * commands, a second gateway process) are noticed through SQLite's data_version, polled cheaply.
 */
import type { Status } from '../../shared/protocol';

export interface StatusSource {
  /** The status now: at once from SQLite, over the network from PostgreSQL. */
  status(): Status | Promise<Status>;
  /** Changes whenever anyone changed the ledger (SQLite's data_version; PostgreSQL's notifications). */
  dataVersion(): number;
}

export type StatusListener = (status: Status) => void;

export class StatusFeed {
  /** Each listener, with what to do when the feed closes (the gateway stopping). */
  private readonly listeners = new Map<StatusListener, (() => void) | undefined>();
  private readonly dataChangeListeners = new Set<() => void>();
  private last: string | null = null;
  private lastStatus: Status | null = null;
  private pending = false;
  /** Publishes are numbered: an older status read that answers late is never pushed after a newer one. */
  private publishes = 0;
  private delivered = 0;
  private version: number;
  private readonly poller: NodeJS.Timeout;

  constructor(
    private readonly source: StatusSource,
    private readonly clock: () => number = Date.now,
    pollMs = 100,
  ) {
    this.version = source.dataVersion();
    this.poller = setInterval(() => this.poll(), pollMs);
    this.poller.unref();
  }

  /**
   * The latest status, computed now. It is not recorded as sent: a change read here by one client
   * must still be pushed to the subscribers.
   */
  current(): Status | Promise<Status> {
    return this.source.status();
  }

  /** Announces a change made in this process; listeners hear of it once per tick at most. */
  changed(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.publish();
    });
  }

  /** `onClose` runs when the feed closes: the gateway stops, and no status will come any more. */
  subscribe(listener: StatusListener, onClose?: () => void): () => void {
    this.listeners.set(listener, onClose);
    return () => this.listeners.delete(listener);
  }

  /**
   * Called when the database changed since the last poll, by this process or another (to drop caches
   * such as known tokens: a token revoked anywhere stops working within one poll).
   */
  onDataChange(listener: () => void): void {
    this.dataChangeListeners.add(listener);
  }

  close(): void {
    clearInterval(this.poller);
    const closing = [...this.listeners.values()];
    this.listeners.clear();
    for (const onClose of closing) onClose?.();
  }

  private poll(): void {
    const version = this.source.dataVersion();
    const resetDue = this.lastStatus?.windows.some((w) => w.resetsAt !== null && Date.parse(w.resetsAt) <= this.clock());
    const external = version !== this.version;
    if (external) {
      this.version = version;
      for (const listener of this.dataChangeListeners) listener();
    }
    if (external || resetDue) this.publish();
  }

  private publish(): void {
    if (this.listeners.size === 0) return;
    const number = ++this.publishes;
    const status = this.source.status();
    if (!(status instanceof Promise)) return this.deliver(number, status);
    // A status that cannot be read now is pushed with the next change (or the next poll).
    status.then((read) => this.deliver(number, read)).catch(() => undefined);
  }

  private deliver(number: number, status: Status): void {
    if (number < this.delivered || !this.remember(status)) return;
    this.delivered = number;
    for (const listener of this.listeners.keys()) listener(status);
  }

  /** Records the status; false when nothing a listener could see has changed. */
  private remember(status: Status): boolean {
    const serialized = JSON.stringify(status);
    if (serialized === this.last) return false;
    this.last = serialized;
    this.lastStatus = status;
    return true;
  }
}
