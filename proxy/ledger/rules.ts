/**
 * The ledger's rules, written once for every store: admission, holds, settlement into usage rows,
 * windows, grants (credits.ts), auto-reload, admin changes and the status they imply. Each rule works
 * on a transaction's Working state (the account's totals as read, mutated in memory) and writes rows
 * through a LedgerTx (rows.ts); it never knows which database is underneath, nor when the transaction
 * commits. The stores (ledger.ts for SQLite, postgres/ for PostgreSQL) run the transactions.
 *
 * Modelled on TigerBeetle's two-phase transfers: admit places a pending hold, post settles it into an
 * append-only usage row at the real cost, void drops it.
 */
import type { Micro } from '../../shared/money';
import type { PlanDefinition, WindowName } from '../../shared/plans';
import { WINDOW_NAMES, planNamed } from '../../shared/plans';
import type { GrantSource, Status } from '../../shared/protocol';
import { GRANT_SOURCES } from '../../shared/protocol';
import type { ModelRate, RateCard } from '../../shared/rateCard';
import { isListed, priceModel } from '../../shared/rateCard';
import type { EstimateReason, MeteredUsage, Vendor } from '../../shared/usage';
import { emptyUsage } from '../../shared/usage';
import { costOf } from '../pricing/cost';
import type { BlockReason, CreditPosition, Decision, Split, WindowUse } from './allowance';
import { applicableWindows, decide, spendableFor, splitPlanCharge, windowLengthMs, windowLimit } from './allowance';
import type { AutoReloadSettings } from './autoReload';
import { reloadAmount, reloadKeyPrefix, validateAutoReload } from './autoReload';
import type { RefundRequest } from './credits';
import { addGrant, refundGrant, spendCredits } from './credits';
import { LedgerError } from './errors';
import type { HoldOwner } from './owners';
import type { AccountRow, CreditCap, HoldRow, LedgerTx, Period, UsageTailRow } from './rows';
import { buildStatus, usedPercent } from './statusView';
import { WALL_CLOCK_TOLERANCE_MS, type LedgerTime } from './trustedTime';

export interface AdmitRequest {
  /** The seat that spends (a team's ledger; the default seat when left out). */
  seat?: string;
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

export interface AddCredits {
  amount: Micro;
  idempotencyKey: string;
  source: GrantSource;
  expiresAt?: number | null;
}

/** A settled hold's usage row and how its cost was split between the plan and credits. */
export interface Settled extends Split {
  usageId: number;
  cost: Micro;
}

/** What one transaction works on: the totals as read, then mutated in memory and saved once. */
export interface Working {
  /** Windows, retry-at and row timestamps (trustedTime.ts: never behind the measured time). */
  now: number;
  /** Window lengths: the time measured with the monotonic clock. */
  measured: number;
  /** Grant expiry: a time both the wall clock and the measured time have reached. */
  certain: number;
  account: AccountRow;
  /** A hold was voided: last_hold_id must be stored, or the deleted newest id could be issued again. */
  mustSave: boolean;
  /**
   * The usage rows this transaction appended, as a reader will fold them. The store adds them to the
   * tail (recentUsage.ts) once they are committed: a transaction run again after a conflict, or rolled
   * back, leaves no row there that was never stored.
   */
  posted: UsageTailRow[];
}

/**
 * A transaction's working set at `time`. Its fields are listed one by one: a literal spreading `time`
 * made V8 define each field on its slow path, on every transaction.
 */
export function workingAt(time: LedgerTime, account: AccountRow, posted: UsageTailRow[] = []): Working {
  return { now: time.now, measured: time.measured, certain: time.certain, account, mustSave: false, posted };
}

/** What the status shows of the newest usage (recentUsage.ts keeps it in memory). */
export interface UsageTail {
  lastCharge(): UsageTailRow | null;
  planBurnLastHour(now: number): Micro;
  unpricedModels(): readonly string[];
}

/** A plan name the configuration no longer defines gets no allowance: never free usage by accident. */
const NO_ALLOWANCE: PlanDefinition = { windows: { '5h': 0, weekly: 0 }, features: [] };

/** Recovered holds have no HTTP status of their own. */
const UNKNOWN_HTTP_STATUS = 0;

export interface RulesOptions {
  plans: Record<string, PlanDefinition>;
  rateCard: RateCard;
  /** Who places this ledger's holds (owners.ts). */
  owner: HoldOwner;
  /** The newest usage (the stores add the rows each transaction appended: Working.posted). */
  recent: UsageTail;
}

export class AccountRules {
  readonly plans: Record<string, PlanDefinition>;
  readonly rateCard: RateCard;
  readonly owner: HoldOwner;
  private readonly recent: UsageTail;
  /** Holds this ledger placed and has not settled: a post then need not read the row back. */
  private readonly ownHolds = new Map<number, HoldRow>();

  constructor(options: RulesOptions) {
    this.plans = options.plans;
    this.rateCard = options.rateCard;
    this.owner = options.owner;
    this.recent = options.recent;
  }

  // ---- two-phase transfers ------------------------------------------------------------------------

  admit(tx: LedgerTx, w: Working, req: AdmitRequest): Admission {
    const plan = this.planOf(w.account);
    const names = applicableWindows(plan, req.feature);
    const windows = this.uses(w, plan, names);
    const credits = creditPosition(w.account, w.now);
    const decision = decide(windows, w.account.planHeld, credits);
    if (decision.state === 'blocked') {
      const planType = w.account.plan!;
      return { admitted: false, state: 'blocked', reason: decision.reason, retryAt: decision.retryAt, planType, limits: this.limitsOf(w) };
    }
    const spendable = spendableFor(decision.state, windows, w.account.planHeld, credits);
    // A zero estimate still holds one micro-credit: each admission must use up part of "something left".
    const estimate = Math.max(1, req.estimate);
    if (decision.state === 'plan') {
      this.openWindows(tx, w, names);
      w.account.planHeld += estimate;
    } else {
      w.account.creditHeld += estimate;
      if (w.account.creditCap) w.account.creditCap = { ...w.account.creditCap, held: w.account.creditCap.held + estimate };
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
    tx.insertHold(hold);
    this.ownHolds.set(holdId, hold);
    return { admitted: true, holdId, state: decision.state, spendable, limits: this.limitsOf(w) };
  }

  post(tx: LedgerTx, w: Working, holdId: number, charge: Charge): Settled {
    const hold = this.takeHold(tx, holdId);
    const model = charge.model ?? hold.model;
    const cost = costOf(this.rateFor(model, charge.usage.vendor), charge.usage);
    return this.settle(tx, w, hold, {
      cost,
      model,
      usage: charge.usage,
      httpStatus: charge.httpStatus ?? 200,
      estimated: charge.estimated ?? false,
      reason: charge.reason ?? null,
      unpriced: !isListed(this.rateCard, model),
    });
  }

  /** Upstream failed before any output: release the hold, charge nothing. */
  void(tx: LedgerTx, w: Working, holdId: number): void {
    const hold = this.takeHold(tx, holdId);
    release(w, hold);
    tx.insertVoidedHold(hold, w.now);
    w.mustSave = true;
  }

  /**
   * Forgets holds a transaction placed that may not have been stored (a PostgreSQL commit not applied
   * or failed): their ids may become another request's, whose row must then be read, not this one.
   */
  forgetHolds(ids: Iterable<number>): void {
    for (const id of ids) this.ownHolds.delete(id);
  }

  /** Settles, at their estimate, the open holds whose owner `isGone` says is gone; returns how many. */
  recoverHolds(tx: LedgerTx, w: Working, isGone: (hold: HoldRow) => boolean): number {
    let settled = 0;
    for (const hold of tx.pendingHolds()) {
      if (!isGone(hold)) continue;
      tx.takeHold(hold.id);
      this.settle(tx, w, hold, {
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
    if (settled > 0) tx.insertAudit(w.now, 'system', 'holds_recovered', { count: settled });
    return settled;
  }

  // ---- credits ------------------------------------------------------------------------------------

  /** `req` has passed validateGrant. */
  addCredits(tx: LedgerTx, w: Working, req: AddCredits, actor: string): { grantId: number; duplicate: boolean } {
    const added = addGrant(tx, w.account, w.now, {
      source: req.source,
      amount: req.amount,
      idempotencyKey: req.idempotencyKey,
      expiresAt: req.expiresAt ?? null,
    });
    // A repeated key adds nothing, so there is nothing to audit.
    if (!added.duplicate) tx.insertAudit(w.now, actor, 'credits_added', { grantId: added.grantId, amount: req.amount, source: req.source });
    return added;
  }

  /** `req` has passed validateRefund. Takes a refunded purchase's credits back (credits.ts refundGrant). */
  refundCredits(tx: LedgerTx, w: Working, req: RefundRequest, actor: string): { refundId: number; duplicate: boolean } {
    const refunded = refundGrant(tx, w.account, w.now, req);
    if (!refunded.duplicate) {
      tx.insertAudit(w.now, actor, 'credits_refunded', { refundId: refunded.refundId, grantKey: req.grantKey, amount: req.amount });
    }
    return refunded;
  }

  // ---- settings (each change is audited) ----------------------------------------------------------

  /** Admin reset: closes the open windows; credits and holds are untouched. */
  resetWindows(tx: LedgerTx, w: Working, actor: string): void {
    const closed: string[] = [];
    for (const name of WINDOW_NAMES) {
      const period = w.account.periods[name];
      if (!period) continue;
      const endsAt = periodEnd(period, name, w);
      if (w.now < endsAt) {
        tx.closePeriod(period.id, w.now, 'reset', period.used);
        closed.push(name);
      } else {
        tx.closePeriod(period.id, endsAt, 'expired', period.used);
      }
      w.account.periods[name] = null;
    }
    tx.insertAudit(w.now, actor, 'windows_reset', { closed });
  }

  /** `name` has passed requirePlan. */
  setPlan(tx: LedgerTx, w: Working, name: string, actor: string): void {
    tx.insertAudit(w.now, actor, 'plan_set', { from: w.account.plan, to: name });
    w.account.plan = name;
  }

  setAutoUseCredits(tx: LedgerTx, w: Working, on: boolean, actor: string): void {
    tx.insertAudit(w.now, actor, 'auto_use_credits_set', { from: w.account.autoUseCredits, to: on });
    w.account.autoUseCredits = on;
  }

  /** A team seat's weekly cap on pool credits (null: none); what it spent this week still counts. */
  setCreditCap(tx: LedgerTx, w: Working, cap: Micro | null, actor: string): void {
    const before = w.account.creditCap ?? null;
    tx.insertAudit(w.now, actor, 'seat_cap_set', { from: before?.cap ?? null, to: cap });
    w.account.creditCap = cap === null ? null : { cap, used: before?.used ?? 0, weekStart: before?.weekStart ?? null, held: before?.held ?? 0 };
  }

  /** `settings` come from validAutoReload. */
  setAutoReload(tx: LedgerTx, w: Working, settings: AutoReloadSettings | null, actor: string): void {
    tx.insertAudit(w.now, actor, 'auto_reload_set', { from: w.account.autoReload, to: settings });
    w.account.autoReload = settings;
  }

  /** Settings a ledger opened on an empty database starts with. */
  initialize(w: Working, initialPlan: string, initialAutoUse: boolean): void {
    w.account.plan ??= initialPlan;
    w.account.autoUseCredits ??= initialAutoUse;
  }

  /** Throws the ledger's unknown_plan error unless `name` is a configured plan. */
  requirePlan(name: string): void {
    if (!planNamed(this.plans, name)) throw unknownPlan(name, this.plans);
  }

  // ---- status -------------------------------------------------------------------------------------

  statusOf(w: Working): Status {
    const plan = this.planOf(w.account);
    const statusWindows = plan.features.length > 0 ? applicableWindows(plan, plan.features[0]!) : [];
    const decision: Decision = decide(this.uses(w, plan, statusWindows), w.account.planHeld, creditPosition(w.account, w.now));
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

  limitsOf(w: Working): AccountLimits {
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

  planOf(account: AccountRow): PlanDefinition {
    return planNamed(this.plans, account.plan!) ?? NO_ALLOWANCE;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private uses(w: Working, plan: PlanDefinition, names: readonly WindowName[]): WindowUse[] {
    return names.map((name) => {
      const period = w.account.periods[name];
      const endsAt = period === null ? null : periodEnd(period, name, w);
      const live = endsAt !== null && w.now < endsAt;
      return { name, limit: windowLimit(plan, name), used: live ? period!.used : 0, endsAt: live ? endsAt : null };
    });
  }

  /** Opens a period for each named window that has none running, anchored at now. */
  private openWindows(tx: LedgerTx, w: Working, names: readonly WindowName[]): void {
    for (const name of names) {
      const previous = w.account.periods[name];
      const previousEnd = previous && periodEnd(previous, name, w);
      if (previous && w.now < previousEnd!) continue;
      if (previous) tx.closePeriod(previous.id, previousEnd!, 'expired', previous.used);
      const endsAt = w.now + windowLengthMs(name);
      w.account.periods[name] = { id: tx.openPeriod(name, w.now, endsAt), endsAt, used: 0, measuredFrom: w.measured };
    }
  }

  private takeHold(tx: LedgerTx, holdId: number): HoldRow {
    // A stale map entry (a rolled-back admit, a hold recovered by another process) fails the delete
    // and falls through to the database's answer.
    const own = this.ownHolds.get(holdId);
    this.ownHolds.delete(holdId);
    if (own && tx.deleteHold(holdId)) return own;
    const hold = tx.takeHold(holdId);
    if (!hold) throw new LedgerError('hold_not_found', `hold ${holdId} is not pending (already posted, voided, or unknown)`);
    return hold;
  }

  /** Turns a taken hold into a usage row at `cost`: plan first for plan holds, then credits. */
  private settle(
    tx: LedgerTx,
    w: Working,
    hold: HoldRow,
    c: { cost: Micro; model: string; usage: MeteredUsage; httpStatus: number; estimated: boolean; reason: EstimateReason | null; unpriced: boolean },
  ): Settled {
    release(w, hold);
    let split: Split = { planCost: 0, creditCost: c.cost };
    let charged: WindowName[] = [];
    if (hold.kind === 'plan') {
      const plan = this.planOf(w.account);
      charged = applicableWindows(plan, hold.feature);
      this.openWindows(tx, w, charged); // the period may have ended between admission and post
      split = splitPlanCharge(c.cost, this.uses(w, plan, charged), creditPosition(w.account, w.now));
    }
    const ts = (w.account.lastUsageTs = Math.max(w.now, w.account.lastUsageTs));
    const usageId = tx.insertUsage({ ts, hold, ...c, status: c.httpStatus, ...split });
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
    w.posted.push(row);
    w.account.totalsUsageId = usageId;
    for (const name of charged) w.account.periods[name]!.used += split.planCost;
    if (split.creditCost > 0) {
      spendCredits(tx, w.account, w.now, split.creditCost, { usageId, refundId: null });
      spendAgainstCap(w.account, w.now, split.creditCost);
      this.autoReload(tx, w);
    }
    // Spelled out: spreading `split` into the result took V8's slow path on every post.
    return { usageId, cost: c.cost, planCost: split.planCost, creditCost: split.creditCost };
  }

  private autoReload(tx: LedgerTx, w: Working): void {
    const cfg = w.account.autoReload;
    if (!cfg) return;
    const amount = reloadAmount(cfg, w.account.balance);
    if (amount <= 0) return;
    const prefix = reloadKeyPrefix(w.now);
    const done = tx.countGrantsWithKeyPrefix(prefix);
    if (done >= cfg.maxPerMonth) return;
    addGrant(tx, w.account, w.now, { source: 'purchase', amount, idempotencyKey: `${prefix}${done + 1}`, expiresAt: null });
    tx.insertAudit(w.now, 'system', 'auto_reload', { amount, reload: done + 1 });
  }

  private rateFor(model: string, vendor: Vendor): ModelRate {
    // priceModel caches its answers per card.
    const price = priceModel(this.rateCard, model, vendor);
    if (!price) throw new LedgerError('unknown_model', `the rate card has no rate for model "${model}" and no default`);
    return price.rate;
  }
}

/** Checks a grant request before any transaction begins: a bad one is the caller's mistake. */
export function validateGrant(req: AddCredits): void {
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0) {
    throw new LedgerError('invalid_argument', `amount must be a positive integer of micro-credits, got ${req.amount}`);
  }
  if (!req.idempotencyKey) throw new LedgerError('invalid_argument', 'idempotencyKey is required');
  if (!GRANT_SOURCES.includes(req.source)) throw new LedgerError('invalid_argument', `unknown grant source: ${String(req.source)}`);
  const expiresAt = req.expiresAt ?? null;
  if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) throw new LedgerError('invalid_argument', 'expiresAt must be unix ms');
}

/** Checks a refund request before any transaction begins. */
export function validateRefund(req: RefundRequest): void {
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0) {
    throw new LedgerError('invalid_argument', `amount must be a positive integer of micro-credits, got ${req.amount}`);
  }
  if (!req.idempotencyKey) throw new LedgerError('invalid_argument', 'idempotencyKey is required');
  if (!req.grantKey) throw new LedgerError('invalid_argument', "grantKey (the refunded grant's idempotency key) is required");
}

/**
 * The running totals' own invariants, checked at the end of every write transaction (cheap: no rows
 * read). Debt exists only once every grant is spent, so the balance is then exactly minus the debt;
 * nothing held is negative. books.ts checks the totals against the rows themselves.
 */
export function assertTotals(a: AccountRow): void {
  const broken =
    a.debt < 0 ? `debt ${a.debt} is negative`
    : a.creditHeld < 0 || a.planHeld < 0 ? `held totals are negative (credits ${a.creditHeld}, plan ${a.planHeld})`
    : a.debt > 0 && a.balance !== -a.debt ? `balance ${a.balance} with debt ${a.debt}: debt is owed only when no grant has credit left`
    : a.balance + a.debt < 0 ? `balance ${a.balance} is below minus the debt ${a.debt}`
    : null;
  // A bug, never a reason to commit: the transaction rolls back and the caller sees an internal error.
  if (broken) throw new LedgerError('internal', `ledger totals broke an invariant: ${broken}`);
}

/** Checks an admission request before any transaction begins. */
export function validateAdmit(req: AdmitRequest): void {
  if (!Number.isSafeInteger(req.estimate) || req.estimate < 0) {
    throw new LedgerError('invalid_argument', `estimate must be a non-negative integer of micro-credits, got ${req.estimate}`);
  }
}

/** The settings as stored: validated, and only the fields the ledger keeps. */
export function validAutoReload(cfg: AutoReloadSettings | null): AutoReloadSettings | null {
  const problem = cfg && validateAutoReload(cfg);
  if (problem) throw new LedgerError('invalid_argument', problem);
  return cfg && { threshold: cfg.threshold, target: cfg.target, maxPerMonth: cfg.maxPerMonth };
}

/**
 * What credits a request may use: the pool's balance less what open requests hold, and on a team seat
 * with a weekly cap no more than the cap leaves (the balance shown to the rules is lowered to match, so
 * every rule that reads the position respects the cap without knowing of it).
 */
function creditPosition(account: AccountRow, now: number): CreditPosition {
  const position = { balance: account.balance, held: account.creditHeld, autoUse: account.autoUseCredits ?? true };
  const cap = account.creditCap;
  if (!cap) return position;
  const capLeft = cap.cap - usedThisWeek(cap, now) - cap.held;
  const available = position.balance - position.held;
  if (capLeft >= available) return position;
  return { ...position, balance: position.held + Math.max(0, capLeft), capped: true };
}

/** The cap week: a week from the seat's first pool spend after the previous one ended. */
const CAP_WEEK_MS = 7 * 24 * 60 * 60 * 1_000;

function usedThisWeek(cap: CreditCap, now: number): Micro {
  return cap.weekStart !== null && now < cap.weekStart + CAP_WEEK_MS ? cap.used : 0;
}

/** Counts a pool spend against the seat's cap week (starting a new one when the last has ended). */
function spendAgainstCap(account: AccountRow, now: number, amount: Micro): void {
  const cap = account.creditCap;
  if (!cap) return;
  const current = cap.weekStart !== null && now < cap.weekStart + CAP_WEEK_MS;
  account.creditCap = current ? { ...cap, used: cap.used + amount } : { ...cap, used: amount, weekStart: now };
}

function release(w: Working, hold: HoldRow): void {
  if (hold.kind === 'plan') {
    w.account.planHeld -= hold.estimate;
    return;
  }
  w.account.creditHeld -= hold.estimate;
  const cap = w.account.creditCap;
  if (cap) w.account.creditCap = { ...cap, held: cap.held - hold.estimate };
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

export function unknownPlan(name: string, plans: Record<string, PlanDefinition>): LedgerError {
  return new LedgerError('unknown_plan', `unknown plan "${name}"; known plans: ${Object.keys(plans).join(', ')}`);
}

/** A stored plan this configuration does not define (removed from the config, or written by an older version). */
function unknownPlanWarning(name: string, plans: Record<string, PlanDefinition>): string {
  return (
    `plan "${name}" is not defined (known plans: ${Object.keys(plans).join(', ')}); it gives no allowance, ` +
    'so usage runs on credits until a plan is chosen (creditgate plan set NAME)'
  );
}
