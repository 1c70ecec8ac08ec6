/**
 * The PostgreSQL store's LedgerTx: the rules run synchronously on rows loaded when the transaction
 * began (under the account row's lock, so nothing changes them meanwhile), and every write lands here
 * first. At commit the transaction's final state is written in one statement (flush.ts): a hold placed
 * and settled in the same transaction is never written, a grant added and spent is written spent.
 *
 * Each queued operation is a savepoint of its own (mark/rollbackTo): a failing one is undone alone, as
 * a SQLite savepoint would undo it, and the others commit.
 */
import type { Micro } from '../../../shared/money';
import type { WindowName } from '../../../shared/plans';
import { LedgerError } from '../errors';
import type {
  CreditEvent, ExpiringGrant, HoldRow, KeyedGrant, KeyedRefund, LedgerTx, NewGrant, NewRefund, NewUsage, SpendableGrant,
} from '../rows';
import { NO_EXPIRY_ORDER } from '../schema';
import { DEFAULT_SEAT } from '../seats';

/** A grant with credit left, as loaded. */
export interface LiveGrant {
  id: number;
  remaining: Micro;
  expiresAt: number | null;
  spendOrder: number;
}

export interface PeriodWrite {
  id: number;
  seat: string;
  name: WindowName;
  startedAt: number;
  endsAt: number;
  closedAt: number | null;
  closeReason: 'expired' | 'reset' | null;
  used: Micro | null;
}

export interface GrantWrite {
  id: number;
  ts: number;
  source: NewGrant['source'];
  amount: Micro;
  remaining: Micro;
  expiresAt: number | null;
  spendOrder: number;
  idempotencyKey: string;
  spentAt: number | null;
  refunded: Micro;
}

export type RefundWrite = NewRefund & { id: number };

export interface AuditWrite {
  ts: number;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** The rows and counters a transaction starts from. */
export interface Loaded {
  /** Open holds by id: those the queued operations name, or all of them (recovery). */
  holds: Map<number, HoldRow>;
  /** The hold ids the operations named: one of them not among `holds` is not pending. */
  requestedHolds: ReadonlySet<number>;
  allHolds: boolean;
  /** Grants with credit left, in spending order. */
  liveGrants: LiveGrant[];
  /** Grants by idempotency key: the keys the operations name, and every key with a prefix in `keyPrefixes`. */
  keyed: Map<string, KeyedGrant>;
  /** The keys the operations named: one of them not in `keyed` was never used. */
  requestedKeys: ReadonlySet<string>;
  /** Refunds by idempotency key: the keys the operations name. */
  refunds: Map<string, KeyedRefund>;
  requestedRefundKeys: ReadonlySet<string>;
  keyPrefixes: readonly string[];
  /** The instances with a recent heartbeat (loaded for recovery only). */
  liveInstances: ReadonlySet<string>;
  lastUsageId: number;
  lastPeriodId: number;
  lastGrantId: number;
  lastRefundId: number;
}

/** What the transaction changed, in final state, for flush.ts. */
export interface Changes {
  insertedHolds: HoldRow[];
  deletedHolds: number[];
  usage: (NewUsage & { id: number })[];
  insertedPeriods: PeriodWrite[];
  closedPeriods: PeriodWrite[];
  insertedGrants: GrantWrite[];
  spentGrants: { id: number; remaining: Micro; spentAt: number | null }[];
  /** Grants loaded, not inserted here, and how much more of each was refunded. */
  refundedGrants: { id: number; refunded: Micro }[];
  refunds: RefundWrite[];
  voidedHolds: (HoldRow & { voidedAt: number })[];
  creditEvents: CreditEvent[];
  audit: AuditWrite[];
  lastUsageId: number;
  lastPeriodId: number;
  lastGrantId: number;
  lastRefundId: number;
}

export class SnapshotTx implements LedgerTx {
  private readonly holds: Map<number, HoldRow>;
  private readonly live: LiveGrant[];
  private readonly keyed: Map<string, KeyedGrant>;
  private readonly insertedHolds = new Map<number, HoldRow>();
  private readonly deletedHolds = new Set<number>();
  private readonly usage: (NewUsage & { id: number })[] = [];
  private readonly periods = new Map<number, PeriodWrite>();
  /** Periods that existed before this transaction and were closed in it. */
  private readonly closed = new Map<number, PeriodWrite>();
  private readonly grants = new Map<number, GrantWrite>();
  private readonly spent = new Map<number, { id: number; remaining: Micro; spentAt: number | null }>();
  private readonly refundedGrants = new Map<number, Micro>();
  private readonly refunds: RefundWrite[] = [];
  private readonly refundKeys: Map<string, KeyedRefund>;
  private readonly voidedHolds: (HoldRow & { voidedAt: number })[] = [];
  private readonly creditEvents: CreditEvent[] = [];
  private readonly audit: AuditWrite[] = [];
  private lastUsageId: number;
  private lastPeriodId: number;
  private lastGrantId: number;
  private lastRefundId: number;
  /** How to undo each change, newest last. */
  private readonly undo: (() => void)[] = [];
  /** The seat the operation running now acts for: its holds and periods belong to it. */
  boundSeat = DEFAULT_SEAT;

  constructor(private readonly loaded: Loaded) {
    this.holds = new Map(loaded.holds);
    this.live = loaded.liveGrants.map((g) => ({ ...g }));
    this.keyed = new Map(loaded.keyed);
    this.refundKeys = new Map(loaded.refunds);
    this.lastUsageId = loaded.lastUsageId;
    this.lastPeriodId = loaded.lastPeriodId;
    this.lastGrantId = loaded.lastGrantId;
    this.lastRefundId = loaded.lastRefundId;
  }

  /**
   * A transaction over the grants with credit left and nothing else loaded: what a status needs to see
   * an expiry that is due, and what the rules' unit tests run on. `keys` are the idempotency keys it may
   * look up (none of them used yet).
   */
  static ofLiveGrants(liveGrants: LiveGrant[], keys: { grants?: string[]; refunds?: string[] } = {}): SnapshotTx {
    return new SnapshotTx({
      holds: new Map(),
      requestedHolds: new Set(),
      allHolds: false,
      liveGrants,
      keyed: new Map(),
      requestedKeys: new Set(keys.grants),
      refunds: new Map(),
      requestedRefundKeys: new Set(keys.refunds),
      keyPrefixes: [],
      liveInstances: new Set(),
      lastUsageId: 0,
      lastPeriodId: 0,
      lastGrantId: 0,
      lastRefundId: 0,
    });
  }

  /** Whether the instance that placed a hold is still running (recovery loads this). */
  isInstanceAlive(instance: string): boolean {
    return this.loaded.liveInstances.has(instance);
  }

  /** A savepoint: rollbackTo(mark) undoes every change made after it. */
  mark(): number {
    return this.undo.length;
  }

  rollbackTo(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()!();
  }

  // ---- holds --------------------------------------------------------------------------------------

  insertHold(h: HoldRow): void {
    // Stamped on the row itself: the rules keep it, and settle it into a usage row of the same seat.
    h.seat = this.boundSeat;
    this.holds.set(h.id, h);
    this.insertedHolds.set(h.id, h);
    this.undo.push(() => {
      this.holds.delete(h.id);
      this.insertedHolds.delete(h.id);
    });
  }

  takeHold(id: number): HoldRow | undefined {
    const hold = this.holds.get(id);
    if (hold === undefined) {
      // Not loaded is not "not pending" unless every open hold was loaded: the store declares the
      // holds each operation names, so this is a bug in the store, not a settled hold.
      if (!this.loaded.allHolds && !this.loaded.requestedHolds.has(id) && !this.loaded.holds.has(id) && !this.deletedHolds.has(id)) {
        throw new LedgerError('internal', `hold ${id} was not loaded for this transaction`);
      }
      return undefined;
    }
    this.holds.delete(id);
    const inserted = this.insertedHolds.delete(id);
    if (!inserted) this.deletedHolds.add(id);
    this.undo.push(() => {
      this.holds.set(id, hold);
      if (inserted) this.insertedHolds.set(id, hold);
      else this.deletedHolds.delete(id);
    });
    return hold;
  }

  /** The seat of an open hold this transaction loaded (the default seat when it is not pending: the rules then refuse it). */
  seatOfHold(id: number): string {
    return this.holds.get(id)?.seat ?? DEFAULT_SEAT;
  }

  deleteHold(id: number): boolean {
    return this.takeHold(id) !== undefined;
  }

  pendingHolds(): HoldRow[] {
    if (!this.loaded.allHolds) throw new LedgerError('internal', 'the open holds were not loaded for this transaction');
    return [...this.holds.values()].sort((a, b) => a.id - b.id);
  }

  insertVoidedHold(h: HoldRow, voidedAt: number): void {
    this.voidedHolds.push({ ...h, voidedAt });
    this.undo.push(() => this.voidedHolds.pop());
  }

  // ---- usage and periods --------------------------------------------------------------------------

  insertUsage(u: NewUsage): number {
    const id = ++this.lastUsageId;
    this.usage.push({ ...u, id });
    this.undo.push(() => {
      this.usage.pop();
      this.lastUsageId--;
    });
    return id;
  }

  openPeriod(name: WindowName, startedAt: number, endsAt: number): number {
    const id = ++this.lastPeriodId;
    this.periods.set(id, { id, seat: this.boundSeat, name, startedAt, endsAt, closedAt: null, closeReason: null, used: null });
    this.undo.push(() => {
      this.periods.delete(id);
      this.lastPeriodId--;
    });
    return id;
  }

  closePeriod(id: number, closedAt: number, reason: 'expired' | 'reset', used: Micro): void {
    const opened = this.periods.get(id);
    if (opened) {
      const before = { ...opened };
      Object.assign(opened, { closedAt, closeReason: reason, used });
      this.undo.push(() => Object.assign(opened, before));
      return;
    }
    const previous = this.closed.get(id);
    // Only the name, start and end of a period opened earlier are not known here, nor written.
    this.closed.set(id, { id, seat: this.boundSeat, name: '5h', startedAt: 0, endsAt: 0, closedAt, closeReason: reason, used });
    this.undo.push(() => (previous ? this.closed.set(id, previous) : this.closed.delete(id)));
  }

  // ---- grants -------------------------------------------------------------------------------------

  headGrant(): SpendableGrant | undefined {
    const head = this.live[0];
    return head && { id: head.id, remaining: head.remaining };
  }

  spendGrant(id: number, amount: Micro): void {
    const grant = this.liveGrant(id);
    grant.remaining -= amount;
    this.recordRemaining(grant, null);
    this.undo.push(() => {
      grant.remaining += amount;
    });
  }

  exhaustGrant(id: number, at: number): void {
    const index = this.live.findIndex((g) => g.id === id);
    if (index < 0) throw new LedgerError('internal', `grant ${id} has no credit left to take`);
    const [grant] = this.live.splice(index, 1) as [LiveGrant];
    const remaining = grant.remaining;
    grant.remaining = 0;
    this.recordRemaining(grant, at);
    this.undo.push(() => {
      grant.remaining = remaining;
      this.live.splice(index, 0, grant);
    });
  }

  grantRemaining(id: number): Micro {
    // Every grant with credit left is loaded: one not among them has none.
    return this.live.find((g) => g.id === id)?.remaining ?? 0;
  }

  grantByKey(key: string): KeyedGrant | undefined {
    // Same as takeHold: an unloaded key is a bug in the store, never a reason to grant twice.
    if (!this.keyed.has(key) && !this.keyLoaded(key)) throw new LedgerError('internal', `idempotency key "${key}" was not loaded for this transaction`);
    return this.keyed.get(key);
  }

  insertGrant(g: NewGrant): number {
    const id = ++this.lastGrantId;
    const spendOrder = g.expiresAt ?? NO_EXPIRY_ORDER;
    const row: GrantWrite = {
      id,
      ts: g.ts,
      source: g.source,
      amount: g.amount,
      remaining: g.remaining,
      expiresAt: g.expiresAt,
      spendOrder,
      idempotencyKey: g.idempotencyKey,
      spentAt: g.remaining === 0 ? g.ts : null, // wholly taken by debt: spent on arrival
      refunded: 0,
    };
    this.grants.set(id, row);
    this.keyed.set(g.idempotencyKey, { id, source: g.source, amount: g.amount, expiresAt: g.expiresAt, refunded: 0 });
    let index = -1;
    if (g.remaining > 0) {
      index = this.live.findIndex((live) => live.spendOrder > spendOrder); // after every grant of the same order: ids grow
      if (index < 0) index = this.live.length;
      this.live.splice(index, 0, { id, remaining: g.remaining, expiresAt: g.expiresAt, spendOrder });
    }
    this.undo.push(() => {
      this.grants.delete(id);
      this.keyed.delete(g.idempotencyKey);
      if (index >= 0) this.live.splice(index, 1);
      this.lastGrantId--;
    });
    return id;
  }

  grantsExpiringBy(now: number): ExpiringGrant[] {
    const due: ExpiringGrant[] = [];
    for (const g of this.live) {
      if (g.spendOrder > now) break;
      due.push({ id: g.id, remaining: g.remaining, expiresAt: g.expiresAt! });
    }
    return due;
  }

  nextGrantExpiry(): number | null {
    const first = this.live[0];
    return first && first.spendOrder < NO_EXPIRY_ORDER ? first.spendOrder : null;
  }

  countGrantsWithKeyPrefix(prefix: string): number {
    if (!this.loaded.keyPrefixes.some((loaded) => prefix.startsWith(loaded))) {
      throw new LedgerError('internal', `grants with key prefix "${prefix}" were not loaded for this transaction`);
    }
    let count = 0;
    for (const key of this.keyed.keys()) if (key.startsWith(prefix)) count++;
    return count;
  }

  refundByKey(key: string): KeyedRefund | undefined {
    if (!this.refundKeys.has(key) && !this.loaded.requestedRefundKeys.has(key)) {
      throw new LedgerError('internal', `refund key "${key}" was not loaded for this transaction`);
    }
    return this.refundKeys.get(key);
  }

  insertRefund(r: NewRefund): number {
    const id = ++this.lastRefundId;
    this.refunds.push({ ...r, id });
    this.refundKeys.set(r.idempotencyKey, { id, grantId: r.grantId, amount: r.amount });
    const undoRefunded = this.addRefunded(r.grantId, r.amount);
    this.undo.push(() => {
      this.refunds.pop();
      this.refundKeys.delete(r.idempotencyKey);
      undoRefunded();
      this.lastRefundId--;
    });
    return id;
  }

  insertCreditEvent(e: CreditEvent): void {
    this.creditEvents.push(e);
    this.undo.push(() => this.creditEvents.pop());
  }

  insertAudit(ts: number, actor: string, action: string, detail: Record<string, unknown>): void {
    this.audit.push({ ts, actor, action, detail });
    this.undo.push(() => this.audit.pop());
  }

  // ---- commit -------------------------------------------------------------------------------------

  changes(): Changes {
    return {
      insertedHolds: [...this.insertedHolds.values()],
      deletedHolds: [...this.deletedHolds],
      usage: this.usage,
      insertedPeriods: [...this.periods.values()],
      closedPeriods: [...this.closed.values()],
      insertedGrants: [...this.grants.values()],
      spentGrants: [...this.spent.values()].filter((g) => !this.grants.has(g.id)),
      refundedGrants: [...this.refundedGrants].map(([id, refunded]) => ({ id, refunded })),
      refunds: this.refunds,
      voidedHolds: this.voidedHolds,
      creditEvents: this.creditEvents,
      audit: this.audit,
      lastUsageId: this.lastUsageId,
      lastPeriodId: this.lastPeriodId,
      lastGrantId: this.lastGrantId,
      lastRefundId: this.lastRefundId,
    };
  }

  /**
   * The rows as the transaction leaves them, once committed: the open holds it knows, the grants with
   * credit left, the grants by key and the counters (writeCache.ts starts the next transaction there).
   */
  after(): Pick<Loaded, 'holds' | 'liveGrants' | 'keyed' | 'lastUsageId' | 'lastPeriodId' | 'lastGrantId' | 'lastRefundId'> {
    return {
      holds: this.holds,
      liveGrants: this.live,
      keyed: this.keyed,
      lastUsageId: this.lastUsageId,
      lastPeriodId: this.lastPeriodId,
      lastGrantId: this.lastGrantId,
      lastRefundId: this.lastRefundId,
    };
  }

  /** Adds to a grant's refunded total (in its insert when it was added here); returns the undo. */
  private addRefunded(grantId: number, amount: Micro): () => void {
    const keyed = [...this.keyed.values()].find((k) => k.id === grantId);
    if (keyed) keyed.refunded += amount;
    const inserted = this.grants.get(grantId);
    if (inserted) inserted.refunded += amount;
    else this.refundedGrants.set(grantId, (this.refundedGrants.get(grantId) ?? 0) + amount);
    return () => {
      if (keyed) keyed.refunded -= amount;
      if (inserted) inserted.refunded -= amount;
      else this.refundedGrants.set(grantId, this.refundedGrants.get(grantId)! - amount);
    };
  }

  private keyLoaded(key: string): boolean {
    return this.loaded.requestedKeys.has(key) || this.loaded.keyPrefixes.some((prefix) => key.startsWith(prefix));
  }

  private liveGrant(id: number): LiveGrant {
    const grant = this.live.find((g) => g.id === id);
    if (!grant) throw new LedgerError('internal', `grant ${id} has no credit left to take`);
    return grant;
  }

  /** Keeps a grant's new remainder for the flush: in its insert when it was added here, else as an update. */
  private recordRemaining(grant: LiveGrant, spentAt: number | null): void {
    const inserted = this.grants.get(grant.id);
    if (inserted) {
      const before = { remaining: inserted.remaining, spentAt: inserted.spentAt };
      inserted.remaining = grant.remaining;
      inserted.spentAt = spentAt;
      this.undo.push(() => Object.assign(inserted, before));
      return;
    }
    const previous = this.spent.get(grant.id);
    this.spent.set(grant.id, { id: grant.id, remaining: grant.remaining, spentAt });
    this.undo.push(() => (previous ? this.spent.set(grant.id, previous) : this.spent.delete(grant.id)));
  }
}
