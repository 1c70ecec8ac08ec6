/**
 * The ledger: plan windows and prepaid credits on one SQLite file shared by every Creditgate process.
 *
 * Modelled on TigerBeetle's two-phase transfers: admit() places a pending hold, post() settles it into
 * an append-only usage row at the real cost, void() drops it. Every write runs in one BEGIN IMMEDIATE
 * transaction that reads the running totals (another process may have moved them), applies the rules
 * of allowance.ts and credits.ts, appends rows, and writes the totals back once if they changed beyond
 * what readers derive: an admit that opens no window writes its hold row alone (the held sums come
 * from the holds table), and a post its usage row and hold (later usage rows are folded into the
 * stored totals by every reader, fold.ts).
 */
import type Database from 'better-sqlite3';
import type { Micro } from '../../shared/money';
import { BUILT_IN_PLANS, planNamed } from '../../shared/plans';
import type { GrantRow, Status, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../shared/protocol';
import type { AutoReloadSettings } from './autoReload';
import type { AccountOptions } from './book';
import type { CreditLog } from './creditLog';
import { booksProblems } from './books';
import { pendingChargesFile, readKeptSettlements, removeKeptSettlements, settle } from './chargeJournal';
import type { RefundRequest } from './credits';
import { dueExpiry, expireDueGrants } from './credits';
import { openLedgerDatabase } from './databaseFile';
import { LedgerError } from './errors';
import type { HoldOwner } from './owners';
import { isOwnerAlive, registerInstance, unregisterInstance } from './owners';
import { burnWindowStart, RecentUsage } from './recentUsage';
import type { AuditRow } from './reports';
import { Reports } from './reports';
import type { AccountRow, UsageTailRow } from './rows';
import type { AccountLimits, AddCredits, Admission, AdmitRequest, Charge, Working } from './rules';
import { AccountRules, assertTotals, unknownPlan, validAutoReload, validateAdmit, validateGrant, validateRefund, workingAt } from './rules';
import { migrate } from './schema';
import { DEFAULT_BUSY_TIMEOUT_MS } from './connection';
import { storageFailure, translatingStorageFailures } from './storageFailure';
import { FOLD_LIMIT, copyTotals, foldUsage, onlyFolded } from './fold';
import { Store } from './store';
import type { AuthenticatedClient, TokenRole } from './tokens';
import { hashToken, newToken } from './tokens';
import { markWorthStoring, systemMonotonicClock, TrustedClock } from './trustedTime';

export type { AccountLimits, AddCredits, Admission, AdmitRequest, Charge } from './rules';
export type { AutoReloadSettings } from './autoReload';
export type { AuditRow } from './reports';
export type { AuthenticatedClient, TokenRole } from './tokens';
export { LedgerError } from './errors';
export { LedgerStorageError } from './storageFailure';

export interface LedgerOptions extends AccountOptions {
  /** Database file (':memory:' for unit tests). */
  path: string;
  /** How long a write waits for another process's lock before failing as busy (connection.ts). */
  busyTimeoutMs?: number;
}

export interface PostResult {
  usageId: number;
  cost: Micro;
  planCost: Micro;
  creditCost: Micro;
  /**
   * The account's status and limits after the post, built when first read: most callers never look
   * (only Codex clients get the limits, as a codex.rate_limits event).
   */
  readonly status: Status;
  readonly limits: AccountLimits;
}

/** How many recent outputs recentOutputTokens() returns when the caller does not say. */
const RECENT_OUTPUT_SAMPLE = 200;

/** How many of the newest usage rows seed the in-memory last charge and output samples at open. */
const TAIL_SEED_ROWS = 5_000;

export class Ledger {
  private readonly db: Database.Database;
  /** The database file, named in every storage failure (storageFailure.ts). */
  private readonly path: string;
  private readonly store: Store;
  private readonly reports: Reports;
  private readonly recent = new RecentUsage();
  private readonly owner: HoldOwner;
  private readonly rules: AccountRules;
  private readonly clock: () => number;
  private readonly time: TrustedClock;
  private busyTimeout: number;
  private readonly inTransaction: Database.Transaction<(work: () => unknown) => unknown>;
  /** Commits by this connection; data_version only counts other connections' commits. */
  private ownCommits = 0;
  /**
   * The account totals as this connection last read or wrote them, and the data_version then. While
   * data_version is unchanged no other connection has committed, so the copy is current and the
   * transaction need not read the row again; a rolled-back transaction drops it.
   */
  private cached: { version: number; account: AccountRow } | null = null;
  private closed = false;

  private constructor(db: Database.Database, options: LedgerOptions) {
    this.db = db;
    this.path = options.path;
    this.clock = options.clock ?? Date.now;
    this.time = new TrustedClock(this.clock, options.monotonicClock ?? systemMonotonicClock);
    this.busyTimeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.store = new Store(db);
    this.reports = new Reports(db);
    this.inTransaction = db.transaction((work: () => unknown) => work());
    this.owner = registerInstance();
    this.rules = new AccountRules({ plans: options.plans ?? { ...BUILT_IN_PLANS }, rateCard: options.rateCard, owner: this.owner, recent: this.recent });
  }

  static open(options: LedgerOptions): Ledger {
    const initialPlan = options.initialPlan ?? 'plus';
    const plans = options.plans ?? BUILT_IN_PLANS;
    if (!planNamed(plans, initialPlan)) throw unknownPlan(initialPlan, plans);
    return translatingStorageFailures(options.path, () => {
      const db = openLedgerDatabase(options.path, { busyTimeoutMs: options.busyTimeoutMs });
      try {
        migrate(db);
        const ledger = new Ledger(db, options);
        ledger.initialize(initialPlan, options.initialAutoUseCredits ?? true);
        return ledger;
      } catch (error) {
        db.close();
        throw error;
      }
    });
  }

  /** The database file (':memory:' for an in-memory ledger). */
  get databasePath(): string {
    return this.path;
  }

  /** How long a write waits, blocking this thread, for another process's lock before failing as busy. */
  get busyTimeoutMs(): number {
    return this.busyTimeout;
  }

  /**
   * Changes that wait. The gateway cuts it to a few ms (connection.ts EVENT_LOOP_BUSY_TIMEOUT_MS) and
   * waits for a lock asynchronously instead (groupCommit.ts): SQLite's wait blocks the event loop.
   */
  setBusyTimeout(ms: number): void {
    this.guarded(() => this.db.pragma(`busy_timeout = ${Math.trunc(ms)}`));
    this.busyTimeout = ms;
  }

  /** The ledger's time now (trustedTime.ts): the wall clock, never behind the time measured since the last reading. */
  now(): number {
    return this.time.read(null).now;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    unregisterInstance(this.owner);
    this.db.close();
  }

  // ---- two-phase transfers ------------------------------------------------------------------------

  admit(req: AdmitRequest): Admission {
    validateAdmit(req);
    return this.write((w) => this.rules.admit(this.store, w, req));
  }

  post(holdId: number, charge: Charge): PostResult {
    return this.write((w) => {
      const { usageId, cost, planCost, creditCost } = this.rules.post(this.store, w, holdId, charge);
      return new LazyPostResult(this, usageId, cost, planCost, creditCost);
    });
  }

  /** Upstream failed before any output: release the hold, charge nothing. */
  void(holdId: number): void {
    this.write((w) => this.rules.void(this.store, w, holdId));
  }

  /**
   * Settles the holds whose owning process (or Ledger instance) is gone: first those whose charge (or
   * void) a gateway kept in the pending-charges journal because the database was locked
   * (chargeJournal.ts), then the rest at their estimate. Returns how many were settled at their estimate.
   */
  recover(): number {
    this.replayKeptSettlements();
    return this.write((w) => this.rules.recoverHolds(this.store, w, (hold) => !isOwnerAlive({ pid: hold.ownerPid, instance: hold.ownerInstance })));
  }

  /**
   * Runs `work`, which makes several writes, as one transaction (a group commit): each write inside is
   * a savepoint of its own, so a failing one rolls back alone, while the cost of a commit (locks, WAL
   * frames, system calls) is paid once for all of them. Nothing is durable until this returns.
   */
  batch<T>(work: () => T): T {
    let began = false;
    try {
      return this.inTransaction.immediate(() => {
        began = true;
        return work();
      }) as T;
    } catch (error) {
      // The commit itself failed: everything the writes inside cached or remembered is gone. (A
      // transaction that could not begin, the database being locked, changed nothing.)
      if (began) this.forgetUncommitted();
      throw this.translated(error);
    }
  }

  // ---- credits ------------------------------------------------------------------------------------

  addCredits(req: AddCredits, actor = 'local'): { grantId: number; duplicate: boolean } {
    validateGrant(req);
    return this.write((w) => this.rules.addCredits(this.store, w, req, actor));
  }

  /** Takes a refunded purchase's credits back (credits.ts refundGrant). */
  refundCredits(req: RefundRequest, actor = 'local'): { refundId: number; duplicate: boolean } {
    validateRefund(req);
    return this.write((w) => this.rules.refundCredits(this.store, w, req, actor));
  }

  grants(): GrantRow[] {
    return this.guarded(() => this.reports.grants());
  }

  /** The balance's movements since `since` (ms; default: from the first), read from the log (creditLog.ts). */
  creditLog(since = 0): CreditLog {
    return this.read(() => {
      const time = this.time.read(this.syncWithOthers().clockMark);
      return this.reports.creditLog(since, time.certain);
    });
  }

  // ---- settings (each change is audited) ----------------------------------------------------------

  /** Admin reset: closes the open windows; credits and holds are untouched. */
  resetWindows(actor = 'local'): void {
    this.write((w) => this.rules.resetWindows(this.store, w, actor));
  }

  setPlan(name: string, actor = 'local'): void {
    this.rules.requirePlan(name);
    this.write((w) => this.rules.setPlan(this.store, w, name, actor));
  }

  setAutoUseCredits(on: boolean, actor = 'local'): void {
    this.write((w) => this.rules.setAutoUseCredits(this.store, w, on, actor));
  }

  setAutoReload(cfg: AutoReloadSettings | null, actor = 'local'): void {
    const settings = validAutoReload(cfg);
    this.write((w) => this.rules.setAutoReload(this.store, w, settings, actor));
  }

  getAutoReload(): AutoReloadSettings | null {
    return this.read(() => this.syncWithOthers().autoReload);
  }

  audit(limit = 100): AuditRow[] {
    return this.guarded(() => this.reports.audit(limit));
  }

  /** What is wrong with the books (books.ts); [] when the totals equal what the rows add up to. */
  checkBooks(): string[] {
    return booksProblems(this.read(() => this.reports.books()));
  }

  // ---- status and reports -------------------------------------------------------------------------

  status(): Status {
    return this.view((w) => this.rules.statusOf(w));
  }

  /** The account's current limits (see AccountLimits). */
  limits(): AccountLimits {
    return this.view((w) => this.rules.limitsOf(w));
  }

  usageRows(q: UsageQuery): UsageRow[] {
    return this.guarded(() => this.reports.usageRows(q));
  }

  usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): UsageGroup[] {
    return this.guarded(() => this.reports.usageGroups(q));
  }

  /** Output tokens of the newest non-estimated rows of `model`, newest first (the estimator's sample). */
  recentOutputTokens(model: string, limit = RECENT_OUTPUT_SAMPLE): number[] {
    this.read(() => this.syncWithOthers());
    return this.recent.recentOutputs(model, limit);
  }

  /** Changes whenever any process commits to the ledger, so a gateway can notice others' writes cheaply. */
  dataVersion(): number {
    return this.guarded(() => this.store.dataVersion()) + this.ownCommits;
  }

  // ---- client tokens ------------------------------------------------------------------------------

  /**
   * Issues a new token for `name` (a client token unless `role` says admin) and revokes its previous
   * one; only the token's sha256 is stored.
   */
  issueToken(name: string, role: TokenRole = 'client'): string {
    if (!name) throw new LedgerError('invalid_argument', 'a token needs a client name');
    const token = newToken();
    this.write((w) => {
      this.store.replaceToken(name, hashToken(token), role, w.now);
      this.store.insertAudit(w.now, 'local', 'token_issued', { name, role });
    });
    return token;
  }

  /** The client the token belongs to and its role, or null for an unknown or revoked token. */
  authenticate(token: string): AuthenticatedClient | null {
    return this.guarded(() => this.store.clientForTokenHash(hashToken(token))) ?? null;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private initialize(initialPlan: string, initialAutoUse: boolean): void {
    // Seed the tail first: syncWithOthers() would otherwise follow it from id 0, through every row.
    this.read(() => this.seedTail());
    this.write((w) => this.rules.initialize(w, initialPlan, initialAutoUse));
  }

  /** Rebuilds the in-memory tail (last charge, burn rate, output samples) from the database. */
  private seedTail(): void {
    this.recent.seed(this.reports.newestUsage(TAIL_SEED_ROWS), this.reports.planBurnSince(burnWindowStart(this.clock())));
  }

  /**
   * Inside a transaction: the current account totals, with the usage rows other processes have added
   * folded into them and into the tail. Both come from memory unless another connection has committed
   * meanwhile; then, while the stored row is the revision our totals rest on, only newer rows are folded.
   */
  private syncWithOthers(): AccountRow {
    const version = this.store.dataVersion();
    if (this.cached?.version === version) return this.cached.account;
    const stored = this.store.account();
    const mine = this.cached?.account;
    const account = mine && mine.revision === stored.revision ? withOpenHolds(mine, stored) : stored;
    const rows = this.store.usageAfter(Math.min(account.totalsUsageId, this.recent.lastId));
    foldUsage(account, this.rules.planOf(account), rows);
    this.recent.absorb(rows);
    this.cached = { version, account };
    return account;
  }

  /** Runs `work` in BEGIN IMMEDIATE on freshly read totals and saves the totals once at the end. */
  private write<T>(work: (w: Working) => T): T {
    let result: T;
    let began = false;
    const posted: UsageTailRow[] = [];
    try {
      result = this.inTransaction.immediate(() => {
        began = true;
        const account = this.syncWithOthers();
        const time = this.time.read(account.clockMark);
        const w = workingAt(time, account, posted);
        const settings = settingsOf(w.account);
        const before = copyTotals(w.account);
        this.recordTime(w);
        expireDueGrants(this.store, w.account, w.certain);
        const value = work(w);
        const a = w.account;
        assertTotals(a);
        if (!sameValues(settings, settingsOf(a))) this.store.saveAccount(a);
        else if (w.mustSave || a.totalsUsageId - a.storedUsageId >= FOLD_LIMIT || !onlyFolded(before, a, this.rules.planOf(a), w.posted)) {
          this.store.saveTotals(a);
        }
        return value;
      }) as T;
    } catch (error) {
      // A transaction that could not begin (the database locked) changed nothing to forget.
      if (began) this.forgetUncommitted();
      throw this.translated(error);
    }
    this.ownCommits++;
    // Committed (or, inside batch(), released as a savepoint: a failing commit re-seeds the tail).
    this.recent.absorb(posted);
    return result;
  }

  /** Stores this reading's trusted time when other processes would otherwise measure from an older one. */
  private recordTime(w: Working): void {
    const mark = this.time.latest;
    if (mark === null || !markWorthStoring(mark, w.account.clockMark)) return;
    w.account.clockMark = mark;
    w.mustSave = true;
  }

  /** The cached totals and the tail may hold changes that were just rolled back: read them again. */
  private forgetUncommitted(): void {
    this.cached = null;
    this.read(() => this.seedTail());
  }

  /**
   * A view of the account as it is now, in a read transaction: it never waits for the write lock (WAL
   * readers do not need it), so a status stays instant while another process writes. An expiry that is
   * due but not yet booked is taken off the balance shown; the next write books it.
   */
  private view<T>(build: (w: Working) => T): T {
    return this.read(() => {
      const stored = this.syncWithOthers();
      const time = this.time.read(stored.clockMark);
      const due = dueExpiry(this.store, stored, time.certain);
      const account = due === 0 ? stored : { ...stored, balance: stored.balance - due };
      return build(workingAt(time, account));
    });
  }

  /** Posts or voids what a gateway kept in the pending-charges journal while the database was locked. */
  private replayKeptSettlements(): void {
    if (this.path === ':memory:') return;
    const file = pendingChargesFile(this.path);
    const kept = readKeptSettlements(file);
    if (kept.length > 0) {
      this.batch(() => {
        let replayed = 0;
        for (const entry of kept) {
          try {
            settle(this, entry);
            replayed++;
          } catch (error) {
            // Idempotent by hold id: one already settled (the journal outlived its commit) is skipped. A
            // charge that cannot be priced any more leaves its hold to be settled at its estimate.
            if (!(error instanceof LedgerError) || error.code === 'storage') throw error;
          }
        }
        if (replayed > 0) this.write((w) => this.store.insertAudit(w.now, 'system', 'kept_charges_replayed', { count: replayed }));
      });
    }
    // Only once they are committed: a crash before this replays them again, and each finds its hold settled.
    removeKeptSettlements(file);
  }

  /** A consistent snapshot for reads (BEGIN DEFERRED). */
  private read<T>(work: () => T): T {
    try {
      return this.inTransaction.deferred(work) as T;
    } catch (error) {
      throw this.translated(error);
    }
  }

  /** Runs a statement outside write()/read(): its SQLite failures, too, name their cause and the file. */
  private guarded<T>(work: () => T): T {
    return translatingStorageFailures(this.path, work);
  }

  private translated(error: unknown): unknown {
    return storageFailure(error, this.path) ?? error;
  }
}

/**
 * The account fields that change rarely. Settings and periods are replaced, never mutated in place
 * (a period's `used` is a total, not a setting), so comparing references tells whether the whole row
 * must be written or the running totals alone.
 */
function settingsOf(a: AccountRow): unknown[] {
  return [a.plan, a.autoUseCredits, a.autoReload, a.periods['5h'], a.periods.weekly];
}

/** Our totals, still resting on the stored row, with the open holds as they are now. */
function withOpenHolds(mine: AccountRow, stored: AccountRow): AccountRow {
  mine.planHeld = stored.planHeld;
  mine.creditHeld = stored.creditHeld;
  mine.lastHoldId = Math.max(mine.lastHoldId, stored.lastHoldId);
  mine.headGrant = undefined; // another process may have spent from it without rewriting the row
  return mine;
}

function sameValues(before: unknown[], after: unknown[]): boolean {
  return before.every((value, i) => value === after[i]);
}

/** A post's outcome; status and limits are built when first read (a class: getters on a literal cost a runtime call per post). */
class LazyPostResult implements PostResult {
  constructor(
    private readonly ledger: Ledger,
    readonly usageId: number,
    readonly cost: Micro,
    readonly planCost: Micro,
    readonly creditCost: Micro,
  ) {}

  get status(): Status {
    return this.ledger.status();
  }

  get limits(): AccountLimits {
    return this.ledger.limits();
  }
}
