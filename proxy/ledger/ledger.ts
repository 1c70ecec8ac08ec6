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
import type { PlanDefinition, WindowName } from '../../shared/plans';
import { BUILT_IN_PLANS, WINDOW_NAMES, planNamed } from '../../shared/plans';
import type { GrantRow, GrantSource, Status, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../shared/protocol';
import { GRANT_SOURCES } from '../../shared/protocol';
import type { ModelRate, RateCard } from '../../shared/rateCard';
import { isListed, priceModel } from '../../shared/rateCard';
import type { EstimateReason, MeteredUsage, Vendor } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import { costOf } from '../pricing/cost';
import type { BlockReason, Decision, Split, WindowUse } from './allowance';
import { applicableWindows, decide, spendableFor, splitPlanCharge, windowLengthMs, windowLimit } from './allowance';
import type { AutoReloadSettings } from './autoReload';
import { reloadAmount, reloadKeyPrefix, validateAutoReload } from './autoReload';
import { pendingChargesFile, readKeptSettlements, removeKeptSettlements, settle } from './chargeJournal';
import { addGrant, dueExpiry, expireDueGrants, spendCredits } from './credits';
import { openLedgerDatabase } from './databaseFile';
import { LedgerError } from './errors';
import type { HoldOwner } from './owners';
import { isOwnerAlive, registerInstance, unregisterInstance } from './owners';
import { BURN_WINDOW_MS, RecentUsage } from './recentUsage';
import type { AuditRow } from './reports';
import { Reports } from './reports';
import { migrate } from './schema';
import { DEFAULT_BUSY_TIMEOUT_MS } from './connection';
import { storageFailure, translatingStorageFailures } from './storageFailure';
import { buildStatus, usedPercent } from './statusView';
import { FOLD_LIMIT, copyTotals, foldUsage, onlyFolded } from './fold';
import type { AccountRow, HoldRow, Period, UsageTailRow } from './store';
import { Store } from './store';
import type { AuthenticatedClient, TokenRole } from './tokens';
import { hashToken, newToken } from './tokens';
import type { MonotonicClock } from './trustedTime';
import { markWorthStoring, systemMonotonicClock, TrustedClock, WALL_CLOCK_TOLERANCE_MS } from './trustedTime';

export type { AutoReloadSettings } from './autoReload';
export type { AuditRow } from './reports';
export type { AuthenticatedClient, TokenRole } from './tokens';
export { LedgerError } from './errors';
export { LedgerStorageError } from './storageFailure';

export interface LedgerOptions {
  /** Database file (':memory:' for unit tests). */
  path: string;
  /** post() prices with priceModel + costOf. */
  rateCard: RateCard;
  /** Resolved plans (shared/plans.ts resolvePlans); default BUILT_IN_PLANS. */
  plans?: Record<string, PlanDefinition>;
  /** Used only when the database has no plan chosen yet (default 'plus'). */
  initialPlan?: string;
  /** Used only when the database has no setting yet (default true). */
  initialAutoUseCredits?: boolean;
  /** The wall clock, ms since epoch; injectable so tests move time. */
  clock?: () => number;
  /** The system's monotonic clock (trustedTime.ts); injectable so tests can jump the wall clock alone. */
  monotonicClock?: MonotonicClock;
  /** How long a write waits for another process's lock before failing as busy (connection.ts). */
  busyTimeoutMs?: number;
}

export interface AdmitRequest {
  requestId: string;
  client: string;
  model: string;
  route: string;
  feature: string;
  estimate: Micro;
}

/**
 * The account in the few figures a response's rate-limit headers carry (gateway/codexHeaders.ts):
 * cheaper than a Status, which admission would otherwise build on every request.
 */
export interface AccountLimits {
  plan: string;
  /** Per window: percent of its limit used (two decimals), and when its open period ends (unix ms) or null. */
  windows: Record<WindowName, { usedPercent: number; endsAt: number | null }>;
  balance: Micro;
  /** The balance less what open requests hold. */
  available: Micro;
}

/** An admission, with the account's limits right after it (`status()` has the rest). */
export type Admission =
  | {
      admitted: true;
      holdId: number;
      state: 'plan' | 'credits';
      /** The most this request may cost (allowance and credits left before its hold; allowance.ts spendableFor). */
      spendable: Micro;
      limits: AccountLimits;
    }
  | {
      admitted: false;
      state: 'blocked';
      reason: BlockReason;
      /** Unix ms when a window reset would unblock, else null. */
      retryAt: number | null;
      planType: string;
      limits: AccountLimits;
    };

export interface Charge {
  usage: MeteredUsage;
  /** Priced instead of the hold's model when the upstream answered with another. */
  model?: string;
  httpStatus?: number;
  estimated?: boolean;
  reason?: EstimateReason | null;
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

export interface AddCredits {
  amount: Micro;
  idempotencyKey: string;
  source: GrantSource;
  expiresAt?: number | null;
}

/** A plan name the configuration no longer defines gets no allowance: never free usage by accident. */
const NO_ALLOWANCE: PlanDefinition = { windows: { '5h': 0, weekly: 0 }, features: [] };

/** How many recent outputs recentOutputTokens() returns when the caller does not say. */
const RECENT_OUTPUT_SAMPLE = 200;

/** Recovered holds have no HTTP status of their own. */
const UNKNOWN_HTTP_STATUS = 0;

/** How many of the newest usage rows seed the in-memory last charge and output samples at open. */
const TAIL_SEED_ROWS = 5_000;

/** What one transaction works on: the totals as read, then mutated in memory and saved once. */
interface Working {
  /** Windows, retry-at and row timestamps (trustedTime.ts: never behind the measured time). */
  now: number;
  /** Window lengths: the time measured with the monotonic clock. */
  measured: number;
  /** Grant expiry: a time both the wall clock and the measured time have reached. */
  certain: number;
  account: AccountRow;
  /** A hold was voided: last_hold_id must be stored, or the deleted newest id could be issued again. */
  mustSave: boolean;
  /** The usage rows this transaction appended, as a reader will fold them. */
  posted: UsageTailRow[];
}

export class Ledger {
  private readonly db: Database.Database;
  /** The database file, named in every storage failure (storageFailure.ts). */
  private readonly path: string;
  private readonly store: Store;
  private readonly reports: Reports;
  private readonly recent = new RecentUsage();
  private readonly owner: HoldOwner;
  private readonly plans: Record<string, PlanDefinition>;
  private readonly rateCard: RateCard;
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
  /** Holds this instance placed and has not settled: post() then need not read the row back. */
  private readonly ownHolds = new Map<number, HoldRow>();
  private closed = false;

  private constructor(db: Database.Database, options: LedgerOptions) {
    this.db = db;
    this.path = options.path;
    this.plans = options.plans ?? { ...BUILT_IN_PLANS };
    this.rateCard = options.rateCard;
    this.clock = options.clock ?? Date.now;
    this.time = new TrustedClock(this.clock, options.monotonicClock ?? systemMonotonicClock);
    this.busyTimeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.store = new Store(db);
    this.reports = new Reports(db);
    this.inTransaction = db.transaction((work: () => unknown) => work());
    this.owner = registerInstance();
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
    if (!Number.isSafeInteger(req.estimate) || req.estimate < 0) {
      throw new LedgerError('invalid_argument', `estimate must be a non-negative integer of micro-credits, got ${req.estimate}`);
    }
    return this.write((w) => {
      const plan = this.planOf(w.account);
      const names = applicableWindows(plan, req.feature);
      const windows = this.uses(w, plan, names);
      const credits = this.creditPosition(w.account);
      const decision = decide(windows, w.account.planHeld, credits);
      if (decision.state === 'blocked') {
        const planType = w.account.plan!;
        return { admitted: false, state: 'blocked', reason: decision.reason, retryAt: decision.retryAt, planType, limits: this.limitsOf(w) };
      }
      const spendable = spendableFor(decision.state, windows, w.account.planHeld, credits);
      // A zero estimate still holds one micro-credit: each admission must use up part of "something left".
      const estimate = Math.max(1, req.estimate);
      if (decision.state === 'plan') {
        this.openWindows(w, names);
        w.account.planHeld += estimate;
      } else {
        w.account.creditHeld += estimate;
      }
      const holdId = ++w.account.lastHoldId;
      const hold: HoldRow = {
        id: holdId,
        ts: w.now,
        requestId: req.requestId,
        client: req.client,
        model: req.model,
        route: req.route,
        feature: req.feature,
        kind: decision.state,
        estimate,
        ownerPid: this.owner.pid,
        ownerInstance: this.owner.instance,
      };
      this.store.insertHold(hold);
      this.ownHolds.set(holdId, hold);
      return { admitted: true, holdId, state: decision.state, spendable, limits: this.limitsOf(w) };
    });
  }

  post(holdId: number, charge: Charge): PostResult {
    return this.write((w) => {
      const hold = this.takeHold(holdId);
      const model = charge.model ?? hold.model;
      const cost = costOf(this.rateFor(model, charge.usage.vendor), charge.usage);
      const { usageId, planCost, creditCost } = this.settle(w, hold, {
        cost,
        model,
        usage: charge.usage,
        httpStatus: charge.httpStatus ?? 200,
        estimated: charge.estimated ?? false,
        reason: charge.reason ?? null,
        unpriced: !isListed(this.rateCard, model),
      });
      const status = (): Status => this.status();
      const limits = (): AccountLimits => this.limits();
      return {
        usageId,
        cost,
        planCost,
        creditCost,
        get status() {
          return status();
        },
        get limits() {
          return limits();
        },
      };
    });
  }

  /** Upstream failed before any output: release the hold, charge nothing. */
  void(holdId: number): void {
    this.write((w) => {
      this.release(w, this.takeHold(holdId));
      w.mustSave = true;
    });
  }

  /**
   * Settles the holds whose owning process (or Ledger instance) is gone: first those whose charge (or
   * void) a gateway kept in the pending-charges journal because the database was locked
   * (chargeJournal.ts), then the rest at their estimate. Returns how many were settled at their estimate.
   */
  recover(): number {
    this.replayKeptSettlements();
    return this.write((w) => {
      let settled = 0;
      for (const hold of this.store.pendingHolds()) {
        if (isOwnerAlive({ pid: hold.ownerPid, instance: hold.ownerInstance })) continue;
        this.store.takeHold(hold.id);
        this.settle(w, hold, {
          cost: hold.estimate,
          model: hold.model,
          usage: emptyUsage('openai'),
          httpStatus: UNKNOWN_HTTP_STATUS,
          estimated: true,
          reason: 'gateway_restart',
          unpriced: !isListed(this.rateCard, hold.model),
        });
        settled++;
      }
      if (settled > 0) this.store.insertAudit(w.now, 'system', 'holds_recovered', { count: settled });
      return settled;
    });
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
    if (!Number.isSafeInteger(req.amount) || req.amount <= 0) {
      throw new LedgerError('invalid_argument', `amount must be a positive integer of micro-credits, got ${req.amount}`);
    }
    if (!req.idempotencyKey) throw new LedgerError('invalid_argument', 'idempotencyKey is required');
    if (!GRANT_SOURCES.includes(req.source)) throw new LedgerError('invalid_argument', `unknown grant source: ${String(req.source)}`);
    const expiresAt = req.expiresAt ?? null;
    if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) throw new LedgerError('invalid_argument', 'expiresAt must be unix ms');
    return this.write((w) => {
      const added = addGrant(this.store, w.account, w.now, { source: req.source, amount: req.amount, idempotencyKey: req.idempotencyKey, expiresAt });
      // A repeated key adds nothing, so there is nothing to audit.
      if (!added.duplicate) {
        this.store.insertAudit(w.now, actor, 'credits_added', { grantId: added.grantId, amount: req.amount, source: req.source });
      }
      return added;
    });
  }

  grants(): GrantRow[] {
    return this.guarded(() => this.reports.grants());
  }

  // ---- settings (each change is audited) ----------------------------------------------------------

  /** Admin reset: closes the open windows; credits and holds are untouched. */
  resetWindows(actor = 'local'): void {
    this.write((w) => {
      const closed: string[] = [];
      for (const name of WINDOW_NAMES) {
        const period = w.account.periods[name];
        if (!period) continue;
        const endsAt = periodEnd(period, name, w);
        if (w.now < endsAt) {
          this.store.closePeriod(period.id, w.now, 'reset', period.used);
          closed.push(name);
        } else {
          this.store.closePeriod(period.id, endsAt, 'expired', period.used);
        }
        w.account.periods[name] = null;
      }
      this.store.insertAudit(w.now, actor, 'windows_reset', { closed });
    });
  }

  setPlan(name: string, actor = 'local'): void {
    if (!planNamed(this.plans, name)) throw unknownPlan(name, this.plans);
    this.write((w) => {
      this.store.insertAudit(w.now, actor, 'plan_set', { from: w.account.plan, to: name });
      w.account.plan = name;
    });
  }

  setAutoUseCredits(on: boolean, actor = 'local'): void {
    this.write((w) => {
      this.store.insertAudit(w.now, actor, 'auto_use_credits_set', { from: w.account.autoUseCredits, to: on });
      w.account.autoUseCredits = on;
    });
  }

  setAutoReload(cfg: AutoReloadSettings | null, actor = 'local'): void {
    const problem = cfg && validateAutoReload(cfg);
    if (problem) throw new LedgerError('invalid_argument', problem);
    const settings = cfg && { threshold: cfg.threshold, target: cfg.target, maxPerMonth: cfg.maxPerMonth };
    this.write((w) => {
      this.store.insertAudit(w.now, actor, 'auto_reload_set', { from: w.account.autoReload, to: settings });
      w.account.autoReload = settings;
    });
  }

  getAutoReload(): AutoReloadSettings | null {
    return this.read(() => this.syncWithOthers().autoReload);
  }

  audit(limit = 100): AuditRow[] {
    return this.guarded(() => this.reports.audit(limit));
  }

  // ---- status and reports -------------------------------------------------------------------------

  status(): Status {
    return this.view((w) => this.statusOf(w));
  }

  /** The account's current limits (see AccountLimits). */
  limits(): AccountLimits {
    return this.view((w) => this.limitsOf(w));
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
    this.write((w) => {
      w.account.plan ??= initialPlan;
      w.account.autoUseCredits ??= initialAutoUse;
    });
  }

  /** Rebuilds the in-memory tail (last charge, burn rate, output samples) from the database. */
  private seedTail(): void {
    this.recent.seed(this.reports.newestUsage(TAIL_SEED_ROWS), this.reports.usageSince(this.clock() - BURN_WINDOW_MS));
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
    foldUsage(account, this.planOf(account), rows);
    this.recent.absorb(rows);
    this.cached = { version, account };
    return account;
  }

  /** Runs `work` in BEGIN IMMEDIATE on freshly read totals and saves the totals once at the end. */
  private write<T>(work: (w: Working) => T): T {
    let result: T;
    let began = false;
    try {
      result = this.inTransaction.immediate(() => {
        began = true;
        const account = this.syncWithOthers();
        const time = this.time.read(account.clockMark);
        const w: Working = { ...time, account, mustSave: false, posted: [] };
        const settings = settingsOf(w.account);
        const before = copyTotals(w.account);
        this.recordTime(w);
        expireDueGrants(this.store, w.account, w.certain);
        const value = work(w);
        const a = w.account;
        if (!sameValues(settings, settingsOf(a))) this.store.saveAccount(a);
        else if (w.mustSave || a.totalsUsageId - a.storedUsageId >= FOLD_LIMIT || !onlyFolded(before, a, this.planOf(a), w.posted)) {
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
      return build({ ...time, account, mustSave: false, posted: [] });
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

  private planOf(account: AccountRow): PlanDefinition {
    return planNamed(this.plans, account.plan!) ?? NO_ALLOWANCE;
  }

  private uses(w: Working, plan: PlanDefinition, names: readonly WindowName[]): WindowUse[] {
    return names.map((name) => {
      const period = w.account.periods[name];
      const endsAt = period === null ? null : periodEnd(period, name, w);
      const live = endsAt !== null && w.now < endsAt;
      return { name, limit: windowLimit(plan, name), used: live ? period!.used : 0, endsAt: live ? endsAt : null };
    });
  }

  private creditPosition(account: AccountRow): { balance: Micro; held: Micro; autoUse: boolean } {
    return { balance: account.balance, held: account.creditHeld, autoUse: account.autoUseCredits ?? true };
  }

  /** Opens a period for each named window that has none running, anchored at now. */
  private openWindows(w: Working, names: readonly WindowName[]): void {
    for (const name of names) {
      const previous = w.account.periods[name];
      const previousEnd = previous && periodEnd(previous, name, w);
      if (previous && w.now < previousEnd!) continue;
      if (previous) this.store.closePeriod(previous.id, previousEnd!, 'expired', previous.used);
      const endsAt = w.now + windowLengthMs(name);
      w.account.periods[name] = { id: this.store.openPeriod(name, w.now, endsAt), endsAt, used: 0, measuredFrom: w.measured };
    }
  }

  private takeHold(holdId: number): HoldRow {
    // A stale map entry (a rolled-back admit, a hold recovered by another process) fails the delete
    // and falls through to the database's answer.
    const own = this.ownHolds.get(holdId);
    this.ownHolds.delete(holdId);
    if (own && this.store.deleteHold(holdId)) return own;
    const hold = this.store.takeHold(holdId);
    if (!hold) throw new LedgerError('hold_not_found', `hold ${holdId} is not pending (already posted, voided, or unknown)`);
    return hold;
  }

  private release(w: Working, hold: HoldRow): void {
    if (hold.kind === 'plan') w.account.planHeld -= hold.estimate;
    else w.account.creditHeld -= hold.estimate;
  }

  /** Turns a taken hold into a usage row at `cost`: plan first for plan holds, then credits. */
  private settle(
    w: Working,
    hold: HoldRow,
    c: { cost: Micro; model: string; usage: MeteredUsage; httpStatus: number; estimated: boolean; reason: EstimateReason | null; unpriced: boolean },
  ): { usageId: number } & Split {
    this.release(w, hold);
    let split: Split = { planCost: 0, creditCost: c.cost };
    let charged: WindowName[] = [];
    if (hold.kind === 'plan') {
      const plan = this.planOf(w.account);
      charged = applicableWindows(plan, hold.feature);
      this.openWindows(w, charged); // the period may have ended between admission and post
      split = splitPlanCharge(c.cost, this.uses(w, plan, charged), this.creditPosition(w.account));
    }
    const ts = (w.account.lastUsageTs = Math.max(w.now, w.account.lastUsageTs));
    const usageId = this.store.insertUsage({ ts, hold, ...c, status: c.httpStatus, ...split });
    const row: UsageTailRow = {
      id: usageId,
      ts,
      holdId: hold.id,
      feature: hold.feature,
      planCost: split.planCost,
      creditCost: split.creditCost,
      model: c.model,
      client: hold.client,
      cost: c.cost,
      outputTokens: c.usage.outputTokens,
      estimated: c.estimated ? 1 : 0,
      unpriced: c.unpriced ? 1 : 0,
    };
    this.recent.absorb([row]);
    w.posted.push(row);
    w.account.totalsUsageId = usageId;
    for (const name of charged) w.account.periods[name]!.used += split.planCost;
    if (split.creditCost > 0) {
      spendCredits(this.store, w.account, w.now, split.creditCost, usageId);
      this.autoReload(w);
    }
    return { usageId, ...split };
  }

  private autoReload(w: Working): void {
    const cfg = w.account.autoReload;
    if (!cfg) return;
    const amount = reloadAmount(cfg, w.account.balance);
    if (amount <= 0) return;
    const prefix = reloadKeyPrefix(w.now);
    const done = this.store.countGrantsWithKeyPrefix(prefix);
    if (done >= cfg.maxPerMonth) return;
    addGrant(this.store, w.account, w.now, { source: 'purchase', amount, idempotencyKey: `${prefix}${done + 1}`, expiresAt: null });
    this.store.insertAudit(w.now, 'system', 'auto_reload', { amount, reload: done + 1 });
  }

  private statusOf(w: Working): Status {
    const plan = this.planOf(w.account);
    const statusWindows = plan.features.length > 0 ? applicableWindows(plan, plan.features[0]!) : [];
    const decision: Decision = decide(this.uses(w, plan, statusWindows), w.account.planHeld, this.creditPosition(w.account));
    return buildStatus({
      planName: w.account.plan!,
      plan,
      planWarning: planNamed(this.plans, w.account.plan!) ? null : unknownPlanWarning(w.account.plan!, this.plans),
      autoUseCredits: w.account.autoUseCredits ?? true,
      windows: this.uses(w, plan, WINDOW_NAMES),
      planHeld: w.account.planHeld,
      balance: w.account.balance,
      creditHeld: w.account.creditHeld,
      decision,
      lastCharge: this.recent.lastCharge(),
      planBurnLastHour: this.recent.planBurnLastHour(w.now),
      unpricedModels: this.recent.unpricedModels(),
    });
  }

  private limitsOf(w: Working): AccountLimits {
    const [fiveHours, weekly] = this.uses(w, this.planOf(w.account), WINDOW_NAMES) as [WindowUse, WindowUse];
    const { balance, creditHeld } = w.account;
    return {
      plan: w.account.plan!,
      windows: {
        '5h': { usedPercent: usedPercent(fiveHours), endsAt: fiveHours.endsAt },
        weekly: { usedPercent: usedPercent(weekly), endsAt: weekly.endsAt },
      },
      balance,
      available: balance - creditHeld,
    };
  }

  private rateFor(model: string, vendor: Vendor): ModelRate {
    // priceModel caches its answers per card.
    const price = priceModel(this.rateCard, model, vendor);
    if (!price) throw new LedgerError('unknown_model', `the rate card has no rate for model "${model}" and no default`);
    return price.rate;
  }
}

/**
 * When a period ends, on the ledger's `now`: at the end the clock gave it when it opened, or earlier
 * when its length runs out first by the monotonic clock. The two agree unless the wall clock jumped:
 * a period opened while the clock was days ahead would otherwise block for those days once it is put
 * right. They differ by a millisecond or two from reading the clocks at slightly different moments;
 * then the end stays `endsAt`, so the end shown does not wobble.
 */
function periodEnd(period: Period, name: WindowName, w: { now: number; measured: number }): number {
  if (period.measuredFrom === null) return period.endsAt;
  const measuredEnd = w.now + (period.measuredFrom + windowLengthMs(name) - w.measured);
  return measuredEnd < period.endsAt - WALL_CLOCK_TOLERANCE_MS ? measuredEnd : period.endsAt;
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

function unknownPlan(name: string, plans: Record<string, PlanDefinition>): LedgerError {
  return new LedgerError('unknown_plan', `unknown plan "${name}"; known plans: ${Object.keys(plans).join(', ')}`);
}

/** A stored plan this configuration does not define (removed from the config, or written by an older version). */
function unknownPlanWarning(name: string, plans: Record<string, PlanDefinition>): string {
  return (
    `plan "${name}" is not defined (known plans: ${Object.keys(plans).join(', ')}); it gives no allowance, ` +
    'so usage runs on credits until a plan is chosen (creditgate plan set NAME)'
  );
}
