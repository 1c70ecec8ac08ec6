/**
 * The ledger on PostgreSQL, shared by any number of gateway instances and CLI commands: the same
 * rules as the SQLite store (rules.ts), run on rows loaded under the account row's lock.
 *
 * Group commit, as in the SQLite store: the writes asked for during one turn of the event loop run
 * in one transaction, and while that transaction is on the wire the next turn's writes gather for
 * the one after. However many writes it holds, a transaction is two round trips, BEGIN + lock + load
 * (load.ts) then every row it changed + COMMIT (flush.ts), or one, when this instance may have been the only
 * writer since its own last commit and the writes need nothing that commit did not leave behind
 * (writeCache.ts): the rules run on that, and the commit applies only if the account row's revision
 * says nobody else wrote (else the batch runs again on a load). Each write is its own savepoint in
 * memory (SnapshotTx), so one that fails fails alone; a transaction the server refuses is retried write
 * by write, so one bad write cannot sink the others. A caller hears its result only after COMMIT.
 *
 * Reads (status, limits, reports) use a small pool and never wait for the lock: a status is one
 * statement, so one consistent snapshot.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Micro } from '../../../shared/money';
import { BUILT_IN_PLANS, planNamed } from '../../../shared/plans';
import type { GrantRow, Status, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../../shared/protocol';
import type { AutoReloadSettings } from '../autoReload';
import type { AccountOptions, LedgerBook, Posted, SeatAdmin } from '../book';
import { booksProblems } from '../books';
import type { CreditLog } from '../creditLog';
import type { RefundRequest } from '../credits';
import { dueExpiry, expireDueGrants } from '../credits';
import { LedgerError } from '../errors';
import type { HoldOwner } from '../owners';
import { registerInstance, unregisterInstance } from '../owners';
import { burnWindowStart, RecentUsage, type BurnSecond } from '../recentUsage';
import type { AuditRow } from '../reports';
import type { HoldRow, UsageTailRow } from '../rows';
import { DEFAULT_SEAT, requireSeatName } from '../seats';
import type { AccountLimits, AddCredits, Admission, AdmitRequest, Charge, Working } from '../rules';
import { AccountRules, assertTotals, unknownPlan, validAutoReload, validateAdmit, validateGrant, validateRefund, workingAt } from '../rules';
import { copyTotals } from '../fold';
import type { AuthenticatedClient, TokenRole } from '../tokens';
import { hashToken, newToken } from '../tokens';
import { markWorthStoring, systemMonotonicClock, TrustedClock } from '../trustedTime';
import { newClient, newPool, redactedUrl, unavailable } from './connection';
import { commitSql } from './flush';
import type { Held, LoadResult, Needs, RawAccount, RawSeat, SeatState } from './load';
import { HELD_SQL, clockMarkOf, INSTANCE_TIMEOUT_SECONDS, LIVE_GRANTS_SQL, bindSeat, copySeat, seatsSql, toSeatState, unbindSeat, emptyNeeds, loadSql, tailAfterSql, toAccountRow, toLiveGrant, toLoaded, TAIL_JSON } from './load';
import { PostgresReports } from './reports';
import { migratePostgres } from './schema';
import { SnapshotTx } from './snapshotTx';
import type { Kept, Start } from './writeCache';
import { keep, servable, startFrom } from './writeCache';

export interface PostgresLedgerOptions extends AccountOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Connections for reads (status, reports); writes have their own (writeConnections). Default 4. */
  readConnections?: number;
  /**
   * The most writes one transaction groups (default: all that wait). 1 makes every admit and post a
   * transaction of its own: the naive baseline the ledger benchmark compares group commit with.
   */
  maxBatch?: number;
  /**
   * Write transactions in flight at once (default 2) while other writers contend for the account row:
   * while one commits, the next is already waiting for the row's lock on the server, so no round trip
   * is spent idle between them. Uncontended, one at a time, each in one round trip (writeCache.ts).
   */
  writeConnections?: number;
  /**
   * After another writer was found to have written since this instance's last commit, how long its
   * transactions load before trying the one-round-trip commit again (writeCache.ts). Default 1,000 ms.
   */
  contendedMs?: number;
}

/** One write waiting for the next transaction. */
/** Lets an operation act for a seat: the seat's plan and windows are bound into the row the rules see. */
interface SeatScope {
  act<T>(seat: string, work: () => T): T;
  /** Throws unless the seat exists and is not removed (a removed seat still settles what it had open). */
  requireActive(seat: string): void;
  /** The seats loaded for this transaction that are not removed. */
  names(): string[];
}

/**
 * SQL of another module (built with sqlText.ts literals) committed in the same transaction as a
 * write, given the write's result: a Stripe payment's event and purchase rows land with the grant or
 * refund they pay for, or not at all (proxy/payments/fulfilment.ts).
 */
export type Alongside<T> = (result: T) => string | null;

interface Outcome {
  ok: boolean;
  value: unknown;
}

/** A batch's writes run on a start: their outcomes, and the state they leave. */
interface BatchRun {
  outcomes: Outcome[];
  tx: SnapshotTx;
  w: Working;
  /** The seats the batch started from, unchanged, and those it acted for, as it left them. */
  seats: ReadonlyMap<string, SeatState>;
  touched: Map<string, SeatState>;
  alongsideSql: string[];
}

interface QueuedWrite {
  run: (tx: SnapshotTx, w: Working, seats: SeatScope) => unknown;
  declare: ((needs: Needs) => void) | undefined;
  alongside: Alongside<unknown> | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** How often an open ledger tells the others it is alive (see INSTANCE_TIMEOUT_SECONDS in load.ts). */
const HEARTBEAT_MS = 5_000;
/** How often a supervising instance looks for holds whose instance died: settled within ~30 s of the death. */
const RECOVERY_INTERVAL_MS = 10_000;

/**
 * How a write connection plans: never a sequential scan where an index serves, and no JIT. A write
 * transaction's statements are planned once per connection (plpgsql), possibly while the holds table
 * is one page, when a scan is cheapest; the plan would stay while the table fills with dead rows
 * (writePathSchema.ts). Set on the connection rather than on each function: a function's own
 * settings are put in place and taken back on every call (~45 µs a commit, measured). Only the ledger's
 * write functions run on these connections; reports, which do scan, run on the read pool.
 */
const WRITER_SETTINGS = 'SET enable_seqscan = off; SET jit = off';

/** The channel every instance announces its changes on (status feeds, token caches). */
const CHANNEL = 'creditgate_ledger';
/** At most this often per instance, however many requests it settles: a notification is "look again", not an event per request. */
const NOTIFY_INTERVAL_MS = 200;
const RELISTEN_MS = 1_000;

/** How many of the newest usage rows seed the in-memory tail at open, and the most one read folds in. */
const TAIL_SEED_ROWS = 5_000;
const RECENT_OUTPUT_SAMPLE = 200;

/**
 * The start of a statement that changes seats outside a write transaction: it bumps the account row's
 * revision, so that no instance admits on a seat from what its last commit kept (writeCache.ts), and
 * takes that row's lock first, as every writer does (one lock order, no deadlock). The statement's
 * change reads `bumped`, which makes PostgreSQL run this part first.
 */
const BUMP_REVISION = 'bumped AS (UPDATE account SET revision = revision + 1 WHERE id = 1 RETURNING 1)';

export class PostgresLedger implements LedgerBook, SeatAdmin {
  readonly store = 'postgres' as const;
  readonly seats: SeatAdmin = this;
  private readonly rules: AccountRules;
  private readonly recent = new RecentUsage();
  private readonly owner: HoldOwner;
  private readonly time: TrustedClock;
  private readonly clock: () => number;
  private readonly reports: PostgresReports;
  /** Write connections not in a transaction now. */
  private readonly idleWriters: pg.Client[] = [];
  /** Transactions on the wire now (at most writeConnections). */
  private active = 0;
  private queue: QueuedWrite[] = [];
  private scheduled = false;
  private closed = false;
  /** The heartbeat (every open ledger) and the recovery of dead instances' holds (a supervising gateway). */
  private beat: NodeJS.Timeout | null = null;
  private recovery: NodeJS.Timeout | null = null;
  /** Counts changes by anyone: this instance's commits, and other instances' notifications. */
  private changes = 0;
  private listener: pg.Client | null = null;
  private relisten: NodeJS.Timeout | null = null;
  private notifyTimer: NodeJS.Timeout | null = null;
  private lastNotifyAt = 0;
  /** What the newest commit left, for the next transaction to start from (writeCache.ts); null: load. */
  private kept: Kept | null = null;
  /** The newest state kept, dropped or not since: a load reads its seats and open holds again. */
  private known: Kept | null = null;
  /** Commits this instance has sent (commit ids). */
  private commits = 0;
  /** Until then (performance.now()), transactions load: someone else was writing. */
  private loadUntil = 0;
  /** Transactions committed in one round trip, in two, and one-round-trip attempts that found another writer (for tests and benchmarks). */
  readonly trips = { one: 0, two: 0, wasted: 0 };

  /** The plan a new seat gets when none is named. */
  private readonly initialPlan: string;
  private readonly maxBatch: number;
  private readonly writeConnections: number;
  private readonly contendedMs: number;

  private constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    options: PostgresLedgerOptions,
  ) {
    this.initialPlan = options.initialPlan ?? 'plus';
    this.maxBatch = options.maxBatch ?? Number.MAX_SAFE_INTEGER;
    this.writeConnections = Math.max(1, options.writeConnections ?? 2);
    this.contendedMs = options.contendedMs ?? 1_000;
    this.clock = options.clock ?? Date.now;
    this.time = new TrustedClock(this.clock, options.monotonicClock ?? systemMonotonicClock);
    this.owner = registerInstance();
    this.rules = new AccountRules({ plans: options.plans ?? { ...BUILT_IN_PLANS }, rateCard: options.rateCard, owner: this.owner, recent: this.recent });
    this.reports = new PostgresReports(pool);
    // An idle pooled connection that the server drops must not crash the process: the next query reconnects.
    pool.on('error', () => undefined);
  }

  /** Connects, migrates the schema when needed (safely when several start at once) and seeds the tail. */
  static async open(options: PostgresLedgerOptions): Promise<PostgresLedger> {
    const initialPlan = options.initialPlan ?? 'plus';
    const plans = options.plans ?? BUILT_IN_PLANS;
    if (!planNamed(plans, initialPlan)) throw unknownPlan(initialPlan, plans);
    const pool = newPool(options.url, options.readConnections ?? 4);
    let ledger: PostgresLedger | null = null;
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client);
      } finally {
        client.release();
      }
      const opened = (ledger = new PostgresLedger(options.url, pool, options));
      await opened.heartbeat();
      // Alive while open, however long: another instance settles this one's holds only once it stops beating.
      opened.beat = setInterval(() => void opened.heartbeat().catch(() => undefined), HEARTBEAT_MS);
      opened.beat.unref();
      await opened.seedTail();
      await opened.write(
        (_tx, w, seats) => seats.act(DEFAULT_SEAT, () => opened.rules.initialize(w, initialPlan, options.initialAutoUseCredits ?? true)),
        (needs) => needs.seats.add(DEFAULT_SEAT),
      );
      return opened;
    } catch (error) {
      if (ledger?.beat) clearInterval(ledger.beat);
      await pool.end().catch(() => undefined);
      const failure = unavailable(error, options.url);
      if (failure instanceof LedgerError) throw failure;
      // A wrong password, a missing database, a schema from a newer Creditgate: one line, naming the server.
      const reason = error instanceof Error ? error.message : String(error);
      throw new LedgerError('storage', `cannot open the ledger database ${redactedUrl(options.url)}: ${reason}`);
    }
  }

  /** The database, without its password. */
  get location(): string {
    return redactedUrl(this.url);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.active > 0 || this.queue.length > 0) {
      this.drain();
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.beat) clearInterval(this.beat);
    if (this.recovery) clearInterval(this.recovery);
    if (this.notifyTimer) {
      // A command that changed the ledger and exits at once must still tell the running gateways.
      clearTimeout(this.notifyTimer);
      this.notifyTimer = null;
      await this.pool.query(`NOTIFY ${CHANNEL}`).catch(() => undefined);
    }
    if (this.relisten) clearTimeout(this.relisten);
    await this.listener?.end().catch(() => undefined);
    this.listener = null;
    unregisterInstance(this.owner);
    await this.pool.query('DELETE FROM instances WHERE id = $1', [this.owner.instance]).catch(() => undefined);
    for (const client of this.idleWriters.splice(0)) await client.end().catch(() => undefined);
    await this.pool.end();
  }

  // ---- two-phase transfers ------------------------------------------------------------------------

  /**
   * Admits on `req.seat` (default: the `default` seat): its windows first, then the pool. `immediate`
   * (a stream, whose client waits for its first token): when no transaction is on the wire, one starts
   * at once instead of after the turn's other callbacks.
   */
  admit(req: AdmitRequest, immediate = false): Promise<Admission> {
    validateAdmit(req);
    const seat = req.seat ?? DEFAULT_SEAT;
    return this.write(
      (tx, w, seats) => {
        seats.requireActive(seat);
        return seats.act(seat, () => this.rules.admit(tx, w, req));
      },
      (needs) => needs.seats.add(seat),
      undefined,
      immediate,
    );
  }

  post(holdId: number, charge: Charge): Promise<Posted> {
    return this.write(
      (tx, w, seats) =>
        seats.act(tx.seatOfHold(holdId), () => {
          const settled = this.rules.post(tx, w, holdId, charge);
          return { usageId: settled.usageId, cost: settled.cost, planCost: settled.planCost, creditCost: settled.creditCost, limits: this.rules.limitsOf(w) };
        }),
      (needs) => needsHold(needs, holdId),
    );
  }

  void(holdId: number): Promise<void> {
    return this.write((tx, w, seats) => seats.act(tx.seatOfHold(holdId), () => this.rules.void(tx, w, holdId)), (needs) => needsHold(needs, holdId));
  }

  /**
   * Settles, at their estimate, the holds of instances that stopped beating (killed, machine lost):
   * the gateway calls this every RECOVERY_INTERVAL_MS (supervise), and at start.
   */
  recover(): Promise<number> {
    const gone = (tx: SnapshotTx, hold: HoldRow): boolean => hold.ownerInstance !== this.owner.instance && !tx.isInstanceAlive(hold.ownerInstance);
    return this.write(
      (tx, w, seats) => {
        // Seat by seat: each hold is settled against its own seat's windows.
        const bySeat = new Set(tx.pendingHolds().filter((hold) => gone(tx, hold)).map((hold) => hold.seat ?? DEFAULT_SEAT));
        let settled = 0;
        for (const seat of bySeat) {
          settled += seats.act(seat, () => this.rules.recoverHolds(tx, w, (hold) => (hold.seat ?? DEFAULT_SEAT) === seat && gone(tx, hold)));
        }
        return settled;
      },
      (needs) => (needs.allHolds = true),
    );
  }

  /**
   * Settles dead instances' holds every RECOVERY_INTERVAL_MS, until close (a gateway runs this; a
   * one-shot command need not). Failures wait for the next tick: the database may be briefly out of
   * reach, and requests report that themselves.
   */
  supervise(onRecovered: (count: number) => void = () => undefined): void {
    if (this.recovery) return;
    this.recovery = setInterval(() => {
      void this.recoverIfDue()
        .then((count) => count > 0 && onRecovered(count))
        .catch(() => undefined);
    }, RECOVERY_INTERVAL_MS);
    this.recovery.unref();
  }

  // ---- credits and settings -----------------------------------------------------------------------

  addCredits(req: AddCredits, actor = 'local', alongside?: Alongside<{ grantId: number; duplicate: boolean }>): Promise<{ grantId: number; duplicate: boolean }> {
    validateGrant(req);
    return this.write((tx, w) => this.rules.addCredits(tx, w, req, actor), (needs) => needs.grantKeys.add(req.idempotencyKey), alongside);
  }

  /** Takes a refunded purchase's credits back (credits.ts refundGrant). */
  refundCredits(req: RefundRequest, actor = 'local', alongside?: Alongside<{ refundId: number; duplicate: boolean }>): Promise<{ refundId: number; duplicate: boolean }> {
    validateRefund(req);
    return this.write(
      (tx, w) => this.rules.refundCredits(tx, w, req, actor),
      (needs) => {
        needs.grantKeys.add(req.grantKey);
        needs.refundKeys.add(req.idempotencyKey);
      },
      alongside,
    );
  }

  /** Closes the open windows of `seat`, or of every seat; credits and holds are untouched. */
  resetWindows(actor = 'local', seat?: string): Promise<void> {
    return this.write(
      (tx, w, seats) => {
        for (const name of seat === undefined ? seats.names() : [seat]) seats.act(name, () => this.rules.resetWindows(tx, w, actor));
      },
      (needs) => (seat === undefined ? (needs.allSeats = true) : needs.seats.add(seat)),
    );
  }

  setPlan(name: string, actor = 'local', seat = DEFAULT_SEAT): Promise<void> {
    this.rules.requirePlan(name);
    return this.write(
      (tx, w, seats) => {
        seats.requireActive(seat);
        seats.act(seat, () => this.rules.setPlan(tx, w, name, actor));
      },
      (needs) => needs.seats.add(seat),
    );
  }

  /**
   * A seat's overflow policy (docs/product.md §8): whether it may go on spending pool credits once its windows are
   * used up, and how much of the pool it may spend a week (null: no cap; undefined: unchanged).
   */
  async setOverflow(seat: string, policy: { continueOnPool?: boolean; weeklyCap?: Micro | null }, actor = 'local'): Promise<void> {
    if (policy.weeklyCap !== undefined && policy.weeklyCap !== null && (!Number.isSafeInteger(policy.weeklyCap) || policy.weeklyCap < 0)) {
      throw new LedgerError('invalid_argument', `a weekly cap must be a non-negative integer of micro-credits, got ${policy.weeklyCap}`);
    }
    await this.write(
      (tx, w, seats) => {
        seats.requireActive(seat);
        seats.act(seat, () => {
          if (policy.continueOnPool !== undefined) this.rules.setAutoUseCredits(tx, w, policy.continueOnPool, actor);
          if (policy.weeklyCap !== undefined) this.rules.setCreditCap(tx, w, policy.weeklyCap, actor);
        });
      },
      (needs) => needs.seats.add(seat),
    );
  }

  /** Whether `seat` may go on spending pool credits once its windows are used up. */
  setAutoUseCredits(on: boolean, actor = 'local', seat = DEFAULT_SEAT): Promise<void> {
    return this.write((tx, w, seats) => seats.act(seat, () => this.rules.setAutoUseCredits(tx, w, on, actor)), (needs) => needs.seats.add(seat));
  }

  setAutoReload(cfg: AutoReloadSettings | null, actor = 'local'): Promise<void> {
    const settings = validAutoReload(cfg);
    return this.write((tx, w) => this.rules.setAutoReload(tx, w, settings, actor));
  }

  async getAutoReload(): Promise<AutoReloadSettings | null> {
    const { rows } = await this.read((pool) => pool.query<{ auto_reload: AutoReloadSettings | null }>('SELECT auto_reload FROM account WHERE id = 1'));
    return rows[0]?.auto_reload ?? null;
  }

  // ---- status and reports -------------------------------------------------------------------------

  /** The status of `seat`: its plan and windows, and the org's pool as `credits`. */
  status(seat = DEFAULT_SEAT): Promise<Status> {
    return this.view(seat, (w) => ({ seat, ...this.rules.statusOf(w) }));
  }

  limits(seat = DEFAULT_SEAT): Promise<AccountLimits> {
    return this.view(seat, (w) => this.rules.limitsOf(w));
  }

  grants(): Promise<GrantRow[]> {
    return this.read(() => this.reports.grants());
  }

  /** The pool's balance movements since `since` (ms; default: from the first), read from the log (creditLog.ts). */
  async creditLog(since = 0): Promise<CreditLog> {
    // Expiries count by the ledger's trusted time, which the account row's clock mark anchors.
    const { rows } = await this.read((pool) => pool.query<RawAccount>('SELECT clock_time, clock_mono, clock_domain FROM account WHERE id = 1'));
    const { certain } = this.time.read(clockMarkOf(rows[0]!));
    return this.read(() => this.reports.creditLog(since, certain));
  }

  usageRows(q: UsageQuery): Promise<UsageRow[]> {
    return this.read(() => this.reports.usageRows(q));
  }

  usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): Promise<UsageGroup[]> {
    return this.read(() => this.reports.usageGroups(q));
  }

  audit(limit = 100): Promise<AuditRow[]> {
    return this.read(() => this.reports.audit(limit));
  }

  async checkBooks(): Promise<string[]> {
    return booksProblems(await this.read(() => this.reports.books()));
  }

  /** Output tokens of the newest non-estimated rows of `model` this instance has seen, newest first. */
  recentOutputTokens(model: string, limit = RECENT_OUTPUT_SAMPLE): number[] {
    return this.recent.recentOutputs(model, limit);
  }

  // ---- client tokens ------------------------------------------------------------------------------

  /**
   * Issues a new token for `name` and revokes its previous one: a client token spends on `seat`
   * (default: the default seat), an admin token on none.
   */
  async issueToken(name: string, role: TokenRole = 'client', seat: string = DEFAULT_SEAT): Promise<string> {
    if (!name) throw new LedgerError('invalid_argument', 'a token needs a client name');
    const token = newToken();
    const now = this.clock();
    const tokenSeat = role === 'admin' ? null : seat;
    const { rows } = await this.read((pool) =>
      // One statement: the old token is revoked exactly when the new one exists, and only on a live seat.
      pool.query<{ issued: boolean }>(
        `WITH live AS (SELECT 1 FROM seats WHERE name = $6 AND removed_at IS NULL),
              revoked AS (UPDATE tokens SET revoked_at = $3 WHERE name = $1 AND revoked_at IS NULL AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM live))),
              issued AS (INSERT INTO tokens (name, hash, role, seat, created_at)
                         SELECT $1, $2, $4, $6, $3 WHERE $6::text IS NULL OR EXISTS (SELECT 1 FROM live) RETURNING 1),
              audited AS (INSERT INTO audit (ts, actor, action, detail) SELECT $3, 'local', 'token_issued', $5 FROM issued)
         SELECT EXISTS (SELECT 1 FROM issued) AS issued`,
        [name, hashToken(token), now, role, JSON.stringify({ name, role, seat: tokenSeat }), tokenSeat],
      ),
    );
    if (!rows[0]?.issued) throw unknownSeat(seat);
    this.announce(); // other instances drop their cached tokens: the old one is revoked
    return token;
  }

  // ---- seats --------------------------------------------------------------------------------------

  /** Adds a seat on `plan` (default: the ledger's initial plan) and returns a client token for it. */
  async addSeat(seat: string, plan: string | undefined, actor = 'local'): Promise<string> {
    requireSeatName(seat);
    const chosen = plan ?? this.initialPlan;
    this.rules.requirePlan(chosen);
    const now = this.clock();
    const { rows } = await this.read((pool) =>
      pool.query<{ added: boolean }>(
        `WITH ${BUMP_REVISION},
              added AS (INSERT INTO seats (name, plan, created_at) SELECT $1::text, $2::text, $3::bigint FROM bumped ON CONFLICT (name) DO NOTHING RETURNING 1),
              audited AS (INSERT INTO audit (ts, actor, action, detail) SELECT $3, $4, 'seat_added', $5 FROM added)
         SELECT EXISTS (SELECT 1 FROM added) AS added`,
        [seat, chosen, now, actor, JSON.stringify({ seat, plan: chosen })],
      ),
    );
    this.kept = null; // its revision is stale now: no wasted round trip
    if (!rows[0]?.added) throw new LedgerError('invalid_argument', `a seat named "${seat}" exists already (or existed: removed seats keep their history)`);
    return this.issueToken(seat, 'client', seat);
  }

  /** The seats in use, each with its status (plan, state, windows). */
  async listSeats(): Promise<Status[]> {
    const { rows } = await this.read((pool) => pool.query<{ name: string }>('SELECT name FROM seats WHERE removed_at IS NULL ORDER BY name'));
    return Promise.all(rows.map((row) => this.status(row.name)));
  }

  /** Removes a seat: its tokens are revoked, its history stays, what it has open still settles. */
  async removeSeat(seat: string, actor = 'local'): Promise<void> {
    if (seat === DEFAULT_SEAT) throw new LedgerError('invalid_argument', 'the default seat cannot be removed');
    const now = this.clock();
    const { rows } = await this.read((pool) =>
      pool.query<{ removed: boolean }>(
        `WITH ${BUMP_REVISION},
              removed AS (UPDATE seats SET removed_at = $2 WHERE name = $1 AND removed_at IS NULL AND EXISTS (SELECT 1 FROM bumped) RETURNING 1),
              revoked AS (UPDATE tokens SET revoked_at = $2 WHERE seat = $1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM removed)),
              audited AS (INSERT INTO audit (ts, actor, action, detail) SELECT $2, $3, 'seat_removed', $4 FROM removed)
         SELECT EXISTS (SELECT 1 FROM removed) AS removed`,
        [seat, now, actor, JSON.stringify({ seat })],
      ),
    );
    this.kept = null; // its revision is stale now: no wasted round trip
    if (!rows[0]?.removed) throw unknownSeat(seat);
    this.announce();
  }

  async authenticate(token: string): Promise<AuthenticatedClient | null> {
    const { rows } = await this.read((pool) =>
      pool.query<{ name: string; role: TokenRole; seat: string | null }>('SELECT name, role, seat FROM tokens WHERE hash = $1 AND revoked_at IS NULL', [
        hashToken(token),
      ]),
    );
    const row = rows[0];
    return row ? { name: row.name, role: row.role, ...(row.seat === null ? {} : { seat: row.seat }) } : null;
  }

  // ---- changes, across instances ------------------------------------------------------------------

  /** Changes whenever this instance commits or another one announces a change (StatusFeed polls it). */
  changeCount(): number {
    return this.changes;
  }

  /** The ledger's time now (trustedTime.ts). */
  now(): number {
    return this.time.read(null).now;
  }

  /**
   * Follows the other instances' changes (LISTEN), reconnecting by itself after the database went
   * away; a reconnection counts as a change, since notifications sent meanwhile were lost.
   */
  async follow(): Promise<void> {
    if (this.closed || this.listener) return;
    const client = newClient(this.url);
    const retry = (): void => {
      if (this.listener === client) this.listener = null;
      client.end().catch(() => undefined);
      if (!this.closed && !this.relisten) {
        this.relisten = setTimeout(() => {
          this.relisten = null;
          void this.follow().catch(() => retry());
        }, RELISTEN_MS);
        this.relisten.unref();
      }
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', () => this.changes++);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      retry();
      throw unavailable(error, this.url);
    }
    this.listener = client;
    this.changes++;
  }

  /** Announces this instance's commits to the others, at most every NOTIFY_INTERVAL_MS. */
  private announce(): void {
    this.changes++;
    if (this.notifyTimer || this.closed) return;
    const wait = Math.max(0, this.lastNotifyAt + NOTIFY_INTERVAL_MS - Date.now());
    this.notifyTimer = setTimeout(() => {
      this.notifyTimer = null;
      this.lastNotifyAt = Date.now();
      this.pool.query(`NOTIFY ${CHANNEL}`).catch(() => undefined);
    }, wait);
    this.notifyTimer.unref();
  }

  // ---- instances ---------------------------------------------------------------------------------

  /** Records that this instance is alive (registering it again if a long pause got it removed). */
  private async heartbeat(): Promise<void> {
    await this.read((pool) =>
      pool.query(
        `INSERT INTO instances (id, pid, host) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
        [this.owner.instance, process.pid, hostname()],
      ),
    );
  }

  /** recover(), when some open hold's instance has stopped beating (one cheap query otherwise). */
  private async recoverIfDue(): Promise<number> {
    const { rows } = await this.read((pool) =>
      pool.query<{ due: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM holds h WHERE NOT EXISTS (SELECT 1 FROM instances i
           WHERE i.id = h.owner_instance AND i.heartbeat_at > now() - interval '${INSTANCE_TIMEOUT_SECONDS} seconds')) AS due`,
      ),
    );
    return rows[0]?.due ? this.recover() : 0;
  }

  // ---- transactions -------------------------------------------------------------------------------

  /** Queues `run` for the next transaction; `declare` names the rows it needs loaded besides the account. */
  private write<T>(
    run: (tx: SnapshotTx, w: Working, seats: SeatScope) => T,
    declare?: (needs: Needs) => void,
    alongside?: Alongside<T>,
    immediate = false,
  ): Promise<T> {
    if (this.closed && this.active === 0) return Promise.reject(new LedgerError('invalid_argument', 'the ledger is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, declare, alongside: alongside as Alongside<unknown> | undefined, resolve: resolve as (value: unknown) => void, reject });
      if (immediate && this.active === 0) return this.drain();
      // The turn's other writes join this one: the transaction starts once the turn's callbacks are done.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  /** Starts transactions for what is queued, as many at once as there are write connections. */
  private drain(): void {
    while (this.queue.length > 0 && this.active < this.writeConnections) {
      // Unless another writer was seen lately, one transaction at a time: each starts from the state
      // the one before it left (writeCache.ts), and a load's result is kept only when nothing else is
      // on the wire. (Two on different connections may reach the server in either order: the second
      // would find the first's state missing.)
      if (this.active > 0 && performance.now() >= this.loadUntil) return;
      const batch = this.queue.splice(0, this.maxBatch);
      this.active++;
      void this.commitBatch(batch).finally(() => {
        this.active--;
        this.drain();
      });
    }
  }

  private async commitBatch(batch: QueuedWrite[]): Promise<void> {
    try {
      const outcomes = await this.transaction(batch);
      this.announce();
      outcomes.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.value)));
    } catch (error) {
      // Nothing was committed, or the answer was lost: what was kept may be stale either way.
      this.kept = null;
      // Out of reach: every write fails now (the caller decides to retry). Refused by the server: each
      // write again alone, so that only the one at fault fails.
      const failure = unavailable(error, this.url);
      const outOfReach = failure instanceof LedgerError && failure.code === 'unavailable';
      if (batch.length === 1 || outOfReach) {
        for (const queued of batch) queued.reject(failure);
      } else {
        for (const queued of batch) await this.commitBatch([queued]);
      }
      // A commit whose answer was lost may have landed: its rows are read back into the tail.
      await this.seedTail().catch(() => undefined);
    }
  }

  /**
   * One transaction for `batch`: in one round trip on what the newest transaction kept when this
   * instance may have been the only writer since (writeCache.ts), else (or when someone else did write)
   * in two: load, run each write as a savepoint, commit.
   */
  private async transaction(batch: QueuedWrite[]): Promise<Outcome[]> {
    const needs = emptyNeeds();
    for (const queued of batch) queued.declare?.(needs);
    const kept = this.keptFor(batch, needs);
    if (kept) {
      const outcomes = await this.oneTrip(batch, needs, kept);
      if (outcomes) return outcomes;
    }
    return this.twoTrips(batch, needs);
  }

  /** What the newest transaction will leave, when `batch` may run on it. */
  private keptFor(batch: QueuedWrite[], needs: Needs): Kept | null {
    const kept = this.kept;
    // Alone on the wire: another transaction of this instance would change the state kept.
    if (!kept || this.active > 1 || performance.now() < this.loadUntil) return null;
    if (batch.some((queued) => queued.alongside)) return null;
    return servable(kept, needs) ? kept : null;
  }

  /** The batch on what was kept, in one round trip; null (nothing written) when someone else wrote since. */
  private async oneTrip(batch: QueuedWrite[], needs: Needs, kept: Kept): Promise<Outcome[] | null> {
    const run = this.runBatch(batch, startFrom(kept, needs));
    const ids = { revision: kept.revision, commitId: kept.commitId, next: this.nextCommitId() };
    const sql = commitSql(ids, run.tx.changes(), run.w.account, run.touched, 'alone', run.seats);
    this.keepRun(run, kept.revision + 1, ids.next);
    const client = await this.takeWriter();
    let result: pg.QueryResult<{ applied: boolean }>;
    try {
      result = await client.query<{ applied: boolean }>(sql);
    } catch (error) {
      client.end().catch(() => undefined);
      this.forgetHolds(run);
      throw error;
    }
    this.idleWriters.push(client);
    if (result.rows[0]?.applied !== true) {
      // Another instance or a command wrote: load from now on, for a while, as contended use would
      // otherwise pay this round trip again and again.
      this.forgetHolds(run);
      this.kept = null;
      this.loadUntil = performance.now() + this.contendedMs;
      this.trips.wasted++;
      return null;
    }
    this.trips.one++;
    this.absorb(run.w.posted);
    return run.outcomes;
  }

  /** The batch on rows loaded under the account row's lock: two round trips. */
  private async twoTrips(batch: QueuedWrite[], needs: Needs): Promise<Outcome[]> {
    // Unless another writer was seen lately, the load also reads the seats and open holds known so
    // far: what it leaves is kept, and the next posts and admits on them need not load again.
    if (this.known && performance.now() >= this.loadUntil) {
      for (const seat of this.known.seats.keys()) needs.seats.add(seat);
      for (const id of this.known.rows.holds.keys()) needs.holdIds.add(id);
    }
    // Nothing starts from a state kept before this load: it will change it.
    this.kept = null;
    return this.loadAndCommit(batch, needs);
  }

  private async loadAndCommit(batch: QueuedWrite[], needs: Needs): Promise<Outcome[]> {
    const client = await this.takeWriter();
    let began = false;
    let run: BatchRun | undefined;
    try {
      const results = (await client.query(loadSql(needs))) as unknown as pg.QueryResult<{ loaded: LoadResult | null }>[];
      began = true;
      const loaded = results[1]!.rows[0]?.loaded;
      if (!loaded) throw new LedgerError('internal', 'the ledger account row is missing');
      const seats = new Map(loaded.seats.map((raw) => [raw.name, toSeatState(raw, loaded.held)]));
      run = this.runBatch(batch, { loaded: toLoaded(loaded, needs), account: toAccountRow(loaded.account, loaded.held), seats });
      const ids = { revision: loaded.account.revision, commitId: loaded.account.commit_id, next: this.nextCommitId() };
      const sql = [...run.alongsideSql, commitSql(ids, run.tx.changes(), run.w.account, run.touched, 'loaded', run.seats)].join(';\n');
      const committed = (await client.query(sql)) as unknown as pg.QueryResult<{ applied: boolean }>[];
      // creditgate_commit's answer, the third result from the end. The row has been locked since the
      // load: its revision cannot have moved.
      if (committed.at(-3)?.rows[0]?.applied !== true) throw new LedgerError('internal', 'the ledger account row changed under its lock');
      this.idleWriters.push(client);
      this.trips.two++;
      this.absorb(run.w.posted);
      // Kept only when nothing else is on the wire: a transaction in flight may change the row after it.
      if (this.active === 1) this.keepRun(run, ids.revision + 1, ids.next);
      return run.outcomes;
    } catch (error) {
      if (run) this.forgetHolds(run);
      // A connection that failed mid-transaction is not trusted again: a fresh one replaces it.
      if (began) await client.query('ROLLBACK').catch(() => undefined);
      client.end().catch(() => undefined);
      throw error;
    }
  }

  /** Runs each write of `batch` as a savepoint on `start`; the last write's seat is left bound. */
  private runBatch(batch: QueuedWrite[], start: Start): BatchRun {
    const tx = new SnapshotTx(start.loaded);
    const w = this.working(start.account);
    expireDueGrants(tx, w.account, w.certain);
    const seatStates = start.seats;
    let touched = new Map<string, SeatState>();
    const scope: SeatScope = {
      names: () => [...seatStates].filter(([, seat]) => !seat.removed).map(([name]) => name),
      requireActive: (name) => {
        if (seatStates.get(name)?.removed !== false) throw unknownSeat(name);
      },
      act: (name, work) => {
        // A copy on first use: a write that fails must not leave its changes in seatStates.
        const loaded = seatStates.get(name);
        const state = touched.get(name) ?? (loaded && copySeat(loaded));
        if (!state) throw unknownSeat(name);
        bindSeat(w.account, state);
        tx.boundSeat = name;
        const value = work();
        touched.set(name, unbindSeat(w.account, state.removed));
        return value;
      },
    };
    const alongsideSql: string[] = [];
    const outcomes = batch.map((queued): Outcome => {
      const mark = tx.mark();
      const saved = copyTotals(w.account);
      const savedSeats = new Map([...touched].map(([name, seat]) => [name, copySeat(seat)]));
      const posted = w.posted.length;
      try {
        const value = queued.run(tx, w, scope);
        assertTotals(w.account);
        const also = queued.alongside?.(value);
        if (also) alongsideSql.push(also);
        return { ok: true, value };
      } catch (error) {
        tx.rollbackTo(mark);
        w.account = saved;
        touched = savedSeats;
        w.posted.length = posted;
        return { ok: false, value: error };
      }
    });
    return { outcomes, tx, w, seats: seatStates, touched, alongsideSql };
  }

  /**
   * A committed transaction's usage rows join the tail, when they follow its newest: after other
   * instances' rows (or a transaction that reported first), the next read folds them all in, in order
   * (view), and misses none.
   */
  private absorb(posted: UsageTailRow[]): void {
    if (posted[0]?.id === this.recent.lastId + 1) this.recent.absorb(posted);
  }

  /** The holds `run` placed, when its commit was not applied (or may not have been): rules.forgetHolds. */
  private forgetHolds(run: BatchRun): void {
    this.rules.forgetHolds(run.tx.changes().insertedHolds.map((hold) => hold.id));
  }

  /** Keeps what `run` leaves, committed at `revision` by commit `commitId`: its seats as it left them, and the rest. */
  private keepRun(run: BatchRun, revision: number, commitId: string): void {
    this.kept = this.known = keep(revision, commitId, run.w.account, new Map([...run.seats, ...run.touched]), run.tx);
  }

  /** A commit id no other commit has: this instance's, and a number. */
  private nextCommitId(): string {
    return `${this.owner.instance}:${++this.commits}`;
  }

  /** The transaction's time (trustedTime.ts), storing the mark when other instances should measure from it. */
  private working(account: Working['account']): Working {
    const time = this.time.read(account.clockMark);
    const mark = this.time.latest;
    if (mark !== null && markWorthStoring(mark, account.clockMark)) account.clockMark = mark;
    return workingAt(time, account);
  }

  /** An idle write connection, or a new one. */
  private async takeWriter(): Promise<pg.Client> {
    const idle = this.idleWriters.pop();
    if (idle) return idle;
    const client = newClient(this.url);
    // A dropped connection is noticed by its next query; the event must not crash the process.
    client.on('error', () => {
      const at = this.idleWriters.indexOf(client);
      if (at >= 0) this.idleWriters.splice(at, 1);
      client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(WRITER_SETTINGS);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  /** A status or limits view: one statement, one snapshot, no lock. */
  private async view<T>(seat: string, build: (w: Working) => T): Promise<T> {
    const { rows } = await this.read((pool) =>
      pool.query<{ account: RawAccount; held: Held; live: Parameters<typeof toLiveGrant>[0][]; tail: UsageTailRow[]; seats: RawSeat[] }>(
        `SELECT (SELECT row_to_json(a) FROM account a WHERE id = 1) AS account, ${HELD_SQL} AS held,
           ${LIVE_GRANTS_SQL} AS live, ${tailAfterSql(this.recent.lastId, TAIL_SEED_ROWS)} AS tail,
           ${seatsSql([seat], [], false)} AS seats`,
      ),
    );
    const row = rows[0]!;
    this.recent.absorb(row.tail);
    const seatRow = row.seats[0];
    if (!seatRow || seatRow.removed_at !== null) throw unknownSeat(seat);
    const stored = toAccountRow(row.account, row.held);
    bindSeat(stored, toSeatState(seatRow, row.held));
    const time = this.time.read(stored.clockMark);
    const grants = SnapshotTx.ofLiveGrants(row.live.map(toLiveGrant));
    // An expiry that is due but not booked is left out of the balance shown; the next write books it.
    const due = dueExpiry(grants, stored, time.certain);
    const account = due === 0 ? stored : { ...stored, balance: stored.balance - due };
    return build(workingAt(time, account));
  }

  private async read<T>(query: (pool: pg.Pool) => Promise<T>): Promise<T> {
    try {
      return await query(this.pool);
    } catch (error) {
      throw unavailable(error, this.url);
    }
  }

  /** Rebuilds the in-memory tail (last charge, burn rate, output samples) from the database. */
  private async seedTail(): Promise<void> {
    const since = burnWindowStart(this.clock());
    const { rows } = await this.read((pool) =>
      pool.query<{ newest: UsageTailRow[]; hour: BurnSecond[] }>(
        `SELECT (SELECT coalesce(json_agg(r.t ORDER BY (r.t->>'id')::bigint), '[]') FROM
                  (SELECT ${TAIL_JSON} AS t FROM usage ORDER BY id DESC LIMIT $1) r) AS newest,
                (SELECT coalesce(json_agg(json_build_object('second', b.second, 'planCost', b.cost) ORDER BY b.second), '[]') FROM
                  (SELECT ts / 1000 AS second, sum(plan_cost) AS cost FROM usage WHERE ts >= $2 AND plan_cost <> 0 GROUP BY 1) b) AS hour`,
        [TAIL_SEED_ROWS, since],
      ),
    );
    this.recent.seed(rows[0]!.newest, rows[0]!.hour);
  }
}

/**
 * A post or void: the hold, its seat, and the default seat, which the rules are bound to when the hold
 * is no longer pending (SnapshotTx.seatOfHold), so that they answer hold_not_found.
 */
function needsHold(needs: Needs, holdId: number): void {
  needs.holdIds.add(holdId);
  needs.seats.add(DEFAULT_SEAT);
}

function unknownSeat(seat: string): LedgerError {
  return new LedgerError('unknown_seat', `there is no seat "${seat}" (creditgate seat list shows the seats)`);
}
