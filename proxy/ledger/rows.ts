/**
 * The rows the ledger's rules read and write, and the transaction they do it through (LedgerTx): the
 * one interface both stores implement, so that every rule is written once (rules.ts). The SQLite store
 * answers each call with a statement inside its transaction; the PostgreSQL store from rows it loaded
 * when its transaction began, writing what the rules changed when it commits.
 */
import type { Micro } from '../../shared/money';
import type { WindowName } from '../../shared/plans';
import type { GrantSource } from '../../shared/protocol';
import type { EstimateReason, MeteredUsage } from '../../shared/usage';
import type { AutoReloadSettings } from './autoReload';
import type { TimeMark } from './trustedTime';

/** The running totals of a window's current period. */
export interface Period {
  id: number;
  /** Its end by the clock of the moment it opened (now + the window's length). */
  endsAt: number;
  used: Micro;
  /** The measured time it opened at (trustedTime.ts), or null for a period opened before it was kept. */
  measuredFrom: number | null;
}

/** The running totals and settings, read once per transaction and written back only when they changed. */
export interface AccountRow {
  plan: string | null;
  autoUseCredits: boolean | null;
  autoReload: AutoReloadSettings | null;
  balance: Micro;
  debt: Micro;
  /** Σ open credit holds and Σ open plan holds: derived from the holds table, never stored. */
  creditHeld: Micro;
  planHeld: Micro;
  /** The highest hold id ever issued (stored, or still open in the holds table). */
  lastHoldId: number;
  nextExpiry: number | null;
  /** The newest usage row's ts: the next one is stamped no earlier. */
  lastUsageTs: number;
  /** The latest period of each window; it may have ended (superseded lazily, when the next one opens). */
  periods: Record<WindowName, Period | null>;
  /** The latest trusted time a process recorded (trustedTime.ts), or null before the first. */
  clockMark: TimeMark | null;
  /** The stored row's revision (bumped by each write) and the usage id its totals include. */
  revision: number;
  storedUsageId: number;
  /** The usage id these in-memory totals include: the stored row's plus the rows folded since. */
  totalsUsageId: number;
  /** A team seat's weekly cap on pool credits (rules.ts creditPosition); absent or null: no cap. */
  creditCap?: CreditCap | null;
  /**
   * The grant spent next, kept while nobody else commits so a credit post need not look it up;
   * undefined when not known (re-read), null when no grant has credit left.
   */
  headGrant?: SpendableGrant | null;
}

/** A seat's weekly cap on the pool: what it may spend in a week, what it spent since `weekStart`, what it holds. */
export interface CreditCap {
  cap: Micro;
  used: Micro;
  /** When the current cap week began (its first pool spend), or null before any. */
  weekStart: number | null;
  /** Σ the seat's open credit holds. */
  held: Micro;
}

/** A grant's purchase terms, to compare a repeated idempotency key against, and how much of it was refunded. */
export interface KeyedGrant {
  id: number;
  source: GrantSource;
  amount: Micro;
  expiresAt: number | null;
  /** Σ the refunds taken back from it (a purchase refunded in part or whole). */
  refunded: Micro;
}

/** A refund as recorded, to compare a repeated idempotency key against. */
export interface KeyedRefund {
  id: number;
  grantId: number;
  amount: Micro;
}

export interface NewRefund {
  ts: number;
  grantId: number;
  amount: Micro;
  idempotencyKey: string;
}

export interface SpendableGrant {
  id: number;
  remaining: Micro;
}

export interface HoldRow {
  id: number;
  ts: number;
  requestId: string;
  client: string;
  model: string;
  route: string;
  feature: string;
  kind: 'plan' | 'credits';
  estimate: Micro;
  ownerPid: number;
  ownerInstance: string;
  /** The seat it spends on (a team's ledger; the individual ledger has one seat and leaves this out). */
  seat?: string;
}

export interface NewUsage {
  ts: number;
  hold: HoldRow;
  model: string;
  status: number;
  usage: MeteredUsage;
  cost: Micro;
  planCost: Micro;
  creditCost: Micro;
  estimated: boolean;
  reason: EstimateReason | null;
  /** Priced by the card's default: the card does not list the model. */
  unpriced: boolean;
}

export interface NewGrant {
  ts: number;
  source: GrantSource;
  amount: Micro;
  remaining: Micro;
  expiresAt: number | null;
  idempotencyKey: string;
}

/**
 * One usage row in the columns the tail follower needs (last charge, burn rate, recent outputs) and
 * the fold into the running totals (credit and plan cost, feature, hold id).
 */
export interface UsageTailRow {
  id: number;
  ts: number;
  holdId: number;
  feature: string;
  planCost: Micro;
  creditCost: Micro;
  model: string;
  client: string;
  cost: Micro;
  outputTokens: number;
  estimated: 0 | 1;
  unpriced: 0 | 1;
}

/** A grant with credit left, as expiry writes it off. */
export interface ExpiringGrant {
  id: number;
  remaining: Micro;
  expiresAt: number;
}

/**
 * The credit log's memo rows. `spend` says which grant paid how much of a charge (a usage row) or of a
 * refund: they add up, with the `debt` row of the part no grant covered, to the charge. `debt_repaid`
 * is the part of a new grant that repaid debt; `expire` a grant's remainder written off at its expiry
 * (the one kind that moves the balance by itself: grants, usage credit costs and refunds are the others).
 */
export type CreditEventKind = 'spend' | 'expire' | 'debt' | 'debt_repaid';

export interface CreditEvent {
  ts: number;
  kind: CreditEventKind;
  amount: Micro;
  grantId: number | null;
  /** The charge it belongs to, or the refund; at most one of the two. */
  usageId: number | null;
  refundId: number | null;
}

/** What the rules do to the rows, inside one transaction. Every call is synchronous. */
export interface LedgerTx {
  insertHold(h: HoldRow): void;
  /** Removes a pending hold and returns it, or undefined when it is not pending. */
  takeHold(id: number): HoldRow | undefined;
  /** Removes a pending hold whose contents the caller already knows; false when it was not pending. */
  deleteHold(id: number): boolean;
  pendingHolds(): HoldRow[];
  /** Keeps a voided hold in the log: what was held, for whom, and when it was released unspent. */
  insertVoidedHold(h: HoldRow, voidedAt: number): void;
  insertUsage(u: NewUsage): number;
  openPeriod(name: WindowName, startedAt: number, endsAt: number): number;
  closePeriod(id: number, closedAt: number, reason: 'expired' | 'reset', used: Micro): void;
  /** The grant to spend next: the one expiring first, grants without expiry last. */
  headGrant(): SpendableGrant | undefined;
  /** Takes part of a grant's remainder (less than all of it). */
  spendGrant(id: number, amount: Micro): void;
  /** Takes the rest of a grant: it leaves the spendable grants, stamped with when. */
  exhaustGrant(id: number, at: number): void;
  /** What is left of a grant (0 once spent, expired or refunded). */
  grantRemaining(id: number): Micro;
  /** The grant added with this idempotency key, as it was bought (not what is left of it). */
  grantByKey(key: string): KeyedGrant | undefined;
  insertGrant(g: NewGrant): number;
  /** The refund recorded with this idempotency key. */
  refundByKey(key: string): KeyedRefund | undefined;
  /** Records a refund of part or all of a grant and adds it to the grant's `refunded`. */
  insertRefund(r: NewRefund): number;
  /** Grants with credit left whose expiry is at or before `now`, in spending order. */
  grantsExpiringBy(now: number): ExpiringGrant[];
  /** The earliest expiry among grants with credit left, or null. */
  nextGrantExpiry(): number | null;
  countGrantsWithKeyPrefix(prefix: string): number;
  insertCreditEvent(e: CreditEvent): void;
  insertAudit(ts: number, actor: string, action: string, detail: Record<string, unknown>): void;
}
