/**
 * The ledger as every front end sees it, whichever store keeps it: asynchronous, because the
 * PostgreSQL store answers over the network. The SQLite store (sqliteBook.ts) fits the same shape
 * through its group commit; the PostgreSQL store (postgres/postgresLedger.ts) is this shape natively.
 * Both apply the same rules (rules.ts).
 */
import type { PlanDefinition } from '../../shared/plans';
import type { GrantRow, Status, UsageGroup, UsageGroupKey, UsageQuery, UsageRow } from '../../shared/protocol';
import type { AutoReloadSettings } from './autoReload';
import type { CreditLog } from './creditLog';
import type { RefundRequest } from './credits';
import type { AuditRow } from './reports';
import type { AccountLimits, AddCredits, Admission, AdmitRequest, Charge } from './rules';
import type { AuthenticatedClient, TokenRole } from './tokens';
import type { RateCard } from '../../shared/rateCard';
import type { MonotonicClock } from './trustedTime';

/** What either store is opened with, besides where it is. */
export interface AccountOptions {
  /** post() prices with priceModel + costOf. */
  rateCard: RateCard;
  /** Resolved plans (shared/plans.ts resolvePlans); default BUILT_IN_PLANS. */
  plans?: Record<string, PlanDefinition>;
  /** Used only when the database has no plan chosen yet (default 'plus'); on a team ledger, also a new seat's plan. */
  initialPlan?: string;
  /** Used only when the database has no setting yet (default true). */
  initialAutoUseCredits?: boolean;
  /** The wall clock, ms since epoch; injectable so tests move time. */
  clock?: () => number;
  /** The system's monotonic clock (trustedTime.ts); injectable so tests can jump the wall clock alone. */
  monotonicClock?: MonotonicClock;
}

/** A settled hold: its usage row, what it cost and how that was split, and the account's limits right after. */
export interface Posted {
  usageId: number;
  cost: number;
  planCost: number;
  creditCost: number;
  limits: AccountLimits;
}

export type StoreKind = 'sqlite' | 'postgres';

/** What only a team's ledger has: seats (docs/product.md §8). */
export interface SeatAdmin {
  /** Adds a seat and returns a client token for it. */
  addSeat(seat: string, plan: string | undefined, actor?: string): Promise<string>;
  /** Each seat's status (its plan, state and windows; credits are the pool's). */
  listSeats(): Promise<Status[]>;
  removeSeat(seat: string, actor?: string): Promise<void>;
  setPlan(plan: string, actor: string, seat: string): Promise<void>;
  /** Whether the seat may spend pool credits once its windows are used up, and its weekly cap (null: none). */
  setOverflow(seat: string, policy: { continueOnPool?: boolean; weeklyCap?: number | null }, actor?: string): Promise<void>;
  /** Closes the windows of one seat, or of every seat. */
  resetWindows(actor: string, seat?: string): Promise<void>;
  status(seat: string): Promise<Status>;
}

export interface LedgerBook {
  readonly store: StoreKind;
  /** Where the ledger lives, for messages: the SQLite file's path, or the PostgreSQL URL without its password. */
  readonly location: string;
  admit(req: AdmitRequest): Promise<Admission>;
  post(holdId: number, charge: Charge): Promise<Posted>;
  void(holdId: number): Promise<void>;
  /** Settles, at their estimate, the holds whose gateway is gone; returns how many. */
  recover(): Promise<number>;
  addCredits(req: AddCredits, actor?: string): Promise<{ grantId: number; duplicate: boolean }>;
  /** Takes back the credits of a refunded purchase; the balance may go negative (credits.ts refundGrant). */
  refundCredits(req: RefundRequest, actor?: string): Promise<{ refundId: number; duplicate: boolean }>;
  resetWindows(actor?: string): Promise<void>;
  setPlan(name: string, actor?: string): Promise<void>;
  setAutoUseCredits(on: boolean, actor?: string): Promise<void>;
  setAutoReload(cfg: AutoReloadSettings | null, actor?: string): Promise<void>;
  getAutoReload(): Promise<AutoReloadSettings | null>;
  status(): Promise<Status>;
  limits(): Promise<AccountLimits>;
  grants(): Promise<GrantRow[]>;
  /** The balance's movements since `since` (ms; default: from the first), from the credit log (creditLog.ts). */
  creditLog(since?: number): Promise<CreditLog>;
  usageRows(q: UsageQuery): Promise<UsageRow[]>;
  usageGroups(q: UsageQuery & { groupBy: UsageGroupKey }): Promise<UsageGroup[]>;
  audit(limit?: number): Promise<AuditRow[]>;
  /** What is wrong with the books (books.ts): the totals against what the rows add up to; [] when they balance. */
  checkBooks(): Promise<string[]>;
  /** A client token spends on `seat` (only a team's ledger has seats besides the default one). */
  issueToken(name: string, role?: TokenRole, seat?: string): Promise<string>;
  /** The team ledger's seats; null for the individual ledger, which has one. */
  readonly seats: SeatAdmin | null;
  authenticate(token: string): Promise<AuthenticatedClient | null>;
  close(): Promise<void>;
}
