/**
 * What the gateway, the CLI and the extension say to each other. The JSON shapes here are the
 * contract of docs/product.md §2 and §6 (status, usage rows, usage groups); the JSON-RPC method names are the
 * extension's channel to the gateway process. Credits are numbers rounded to six decimals.
 */
import type { WindowName } from './plans';
import type { GrantReceipt } from './payments';
import type { EstimateReason } from './usage';

export type AccountState = 'plan' | 'credits' | 'blocked';

export interface WindowStatus {
  name: WindowName;
  /** Allowance in credits for this window (0 for plans without an allowance). */
  limit: number;
  /** Posted plan usage in this window, in credits. May exceed limit (overrun recorded on the plan). */
  used: number;
  /** limit − used, never below 0. */
  remaining: number;
  usedPercent: number;
  /** Credits reserved by open holds against this window. */
  held: number;
  /** ISO-8601 end of the open window, or null when none is open. */
  resetsAt: string | null;
  windowMinutes: number;
}

export interface CreditsStatus {
  balance: number;
  held: number;
  available: number;
}

export interface LastCharge {
  id: number;
  ts: string;
  model: string;
  client: string;
  cost: number;
}

/** What the token that asked may do (docs/product.md §8 roles): a member spends and reads; an admin also changes. */
export type TokenRoleName = 'member' | 'admin';

export interface Status {
  /** On a team's ledger: the seat this status is for (its windows; `credits` are the org's pool). */
  seat?: string;
  plan: string;
  state: AccountState;
  autoUseCredits: boolean;
  windows: WindowStatus[];
  credits: CreditsStatus;
  /** The most recent posted request, for the status bar's tooltip. */
  lastCharge: LastCharge | null;
  /** Plan-window credits spent per hour over the last hour, for the "runs out at" projection. */
  burnRatePerHour: number;
  /**
   * Only when the stored plan is not defined (e.g. removed from the config): it gives no allowance,
   * and this says so and how to choose a plan.
   */
  planWarning?: string;
  /**
   * Only when some were billed recently: models the rate card does not list, priced by its default
   * (the shipped card's is the vendor's dearest listed model), oldest first.
   */
  unpricedModels?: string[];
  /** Only in the HTTP API's answers (status and events): the role of the token that asked. */
  role?: TokenRoleName;
  /** Only from a team gateway: whether that token may buy pool credits with Stripe (shared/payments.ts). */
  mayBuyCredits?: boolean;
}

export interface UsageRow {
  id: number;
  ts: string;
  client: string;
  feature: string;
  model: string;
  route: string;
  status: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cost: number;
  planCost: number;
  creditCost: number;
  estimated: boolean;
  reason: EstimateReason | null;
  /** Priced by the rate card's default: the card does not list the model. */
  unpriced: boolean;
}

export const USAGE_GROUP_KEYS = ['day', 'model', 'client', 'feature'] as const;
export type UsageGroupKey = (typeof USAGE_GROUP_KEYS)[number];

export interface UsageGroup {
  key: string;
  requests: number;
  cost: number;
  inputTokens: number;
  outputTokens: number;
}

export interface UsageQuery {
  /** Only this seat's rows (a team's ledger: a member reads its own seat's usage). */
  seat?: string;
  /** Inclusive lower bound, ISO-8601. */
  since?: string;
  /** Exclusive upper bound, ISO-8601. */
  until?: string;
  groupBy?: UsageGroupKey;
  limit?: number;
  /** Only rows with a smaller id: the next page back starts before the oldest row of this one. */
  beforeId?: number;
  /** Only rows with a larger id. */
  afterId?: number;
  /** The oldest `limit` rows of the range rather than the newest (rows come oldest first either way). */
  oldestFirst?: boolean;
}

export const GRANT_SOURCES = ['purchase', 'promo', 'refund', 'admin'] as const;
export type GrantSource = (typeof GRANT_SOURCES)[number];

export interface GrantRow {
  id: number;
  ts: string;
  source: GrantSource;
  amount: number;
  remaining: number;
  expiresAt: string | null;
  idempotencyKey: string | null;
  /** A team gateway's Stripe purchase that paid for this grant: price, session and receipt (shared/payments.ts). */
  payment?: GrantReceipt;
}

export interface AddCreditsRequest {
  amount: number;
  idempotencyKey: string;
  source?: GrantSource;
  expiresAt?: string;
}
