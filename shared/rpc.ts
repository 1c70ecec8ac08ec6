/**
 * The JSON-RPC protocol between the VS Code extension and the gateway process it starts, typed once
 * and imported by both sides (as vscode-eslint shares its protocol between client and server). The
 * payloads are the shapes of shared/protocol.ts, so the extension, the CLI and the HTTP API agree.
 *
 * Errors: a request the gateway refuses (bad amount, unknown plan) fails with a ResponseError whose
 * code is one of RpcErrorCode and whose message is meant for the user.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { PaymentOptions, PurchaseView, StartPurchaseBody } from './payments';
import type { CreditPack } from './rateCard';
import type { AddCreditsRequest, GrantRow, GrantSource, Status, UsageGroup, UsageQuery, UsageRow } from './protocol';
import type { PlanDefinition } from './plans';
import type { AutoReloadConfig } from './requests';

/** What the extension hands the gateway process at `initialize` (its settings, already resolved). */
export interface GatewayInitOptions {
  /** Data directory; undefined = CREDITGATE_DATA_DIR or ~/.creditgate. */
  dataDir?: string;
  /** Config file; undefined = CREDITGATE_CONFIG or none. */
  configFile?: string;
  /** Port; undefined = the config's port, CREDITGATE_PORT or 8788. */
  port?: number;
  /** Applied once the account is open; undefined leaves the account's own setting alone. */
  plan?: string;
  autoUseCredits?: boolean;
  autoReload?: AutoReloadConfig;
}

export type GatewayRole = 'owner' | 'joined';

/** Which gateway this process is: the one listening (owner) or one sharing another's ledger (joined). */
export interface GatewayInfo {
  role: GatewayRole;
  port: number;
  /** Base URL clients use: http://127.0.0.1:<port>. */
  url: string;
  dataDir: string;
  /** The listening gateway's pid (this process when owner). */
  ownerPid: number | null;
}

export interface RateCardSummary {
  version: string;
  creditUsd: number;
  packs: CreditPack[];
}

export interface PlanChoice extends PlanDefinition {
  name: string;
}

export interface PlanList {
  current: string;
  plans: PlanChoice[];
}

export type UpstreamName = 'openai' | 'anthropic';

export interface SetUpstreamKeyParams {
  upstream: UpstreamName;
  /** The key, held in the gateway's memory only; null forgets it (the environment's key, if any, is not restored). */
  key: string | null;
}

export interface IssueTokenParams {
  /** Client name the token is for; its previous token is revoked. */
  name: string;
}

export interface IssuedToken {
  name: string;
  token: string;
}

export type UsageResult = { kind: 'rows'; rows: UsageRow[] } | { kind: 'groups'; groups: UsageGroup[] };

export interface BalanceHistoryParams {
  /** Inclusive start, ISO-8601; the history then opens with a `start` point at the balance of that moment. */
  since?: string;
  /** IANA time zone whose calendar days group the spending; default UTC. */
  timeZone?: string;
}

/** What moved the balance: a grant (by its source), a day's credit spending, an expiry write-off. */
/** What moved the balance at a point (a refund taken back is `purchase_refunded`; `refund` is a grant's source). */
export type BalanceEvent = 'start' | GrantSource | 'purchase_refunded' | 'spending' | 'expiry' | 'now';

/** The credit balance right after an event (credits, six decimals), and the event's signed change. */
export interface BalancePoint {
  ts: string;
  balance: number;
  change: number;
  event: BalanceEvent;
}

export const RpcErrorCode = {
  /** The request's parameters were refused (validation message for the user). */
  invalidParams: -32602,
  /** The account could not do it (for example an unknown plan). */
  operationFailed: -32001,
  /** The gateway is not ready yet (still starting or taking over). */
  notReady: -32002,
} as const;

export const StatusRequest = new RequestType0<Status, void>('creditgate/status');
export const InfoRequest = new RequestType0<GatewayInfo, void>('creditgate/info');
export const UsageRequest = new RequestType<UsageQuery, UsageResult, void>('creditgate/usage');
export const AddCreditsRpc = new RequestType<AddCreditsRequest, Status, void>('creditgate/addCredits');
export const ResetWindowsRequest = new RequestType0<Status, void>('creditgate/resetWindows');
export const SetPlanRequest = new RequestType<{ plan: string }, Status, void>('creditgate/setPlan');
export const ListPlansRequest = new RequestType0<PlanList, void>('creditgate/listPlans');
export const SetAutoUseCreditsRequest = new RequestType<{ on: boolean }, Status, void>('creditgate/setAutoUseCredits');
export const SetAutoReloadRequest = new RequestType<AutoReloadConfig, Status, void>('creditgate/setAutoReload');
export const ListCreditsRequest = new RequestType0<GrantRow[], void>('creditgate/listCredits');
export const RateCardRequest = new RequestType0<RateCardSummary, void>('creditgate/rateCard');
export const IssueTokenRequest = new RequestType<IssueTokenParams, IssuedToken, void>('creditgate/issueToken');
export const BalanceHistoryRequest = new RequestType<BalanceHistoryParams, BalancePoint[], void>('creditgate/balanceHistory');
export const SetUpstreamKeyRequest = new RequestType<SetUpstreamKeyParams, void, void>('creditgate/setUpstreamKey');

/** Pushed within 250 ms of any change to the account, whoever made it (docs/product.md §2). */
export const StatusChangedNotification = new NotificationType<Status>('creditgate/statusChanged');
/** Pushed when this process changes role (a joined process took over the port, or lost it). */
/** The upstream refused the gateway's key for it (HTTP 401): the editor offers to set a new one. */
export const UpstreamKeyRejectedNotification = new NotificationType<{ upstream: UpstreamName }>('creditgate/upstreamKeyRejected');
export const InfoChangedNotification = new NotificationType<GatewayInfo>('creditgate/infoChanged');

/**
 * Buying pool credits (extension/team/teamPurchase.ts): answered by a team gateway's HTTP API
 * (extension/team/teamRequests.ts); a local gateway sells nothing (its Add Credits is a budget top-up).
 */
export const PaymentOptionsRequest = new RequestType0<PaymentOptions, void>('creditgate/paymentOptions');
export const StartPurchaseRequest = new RequestType<StartPurchaseBody, PurchaseView, void>('creditgate/startPurchase');
export const PurchaseRequest = new RequestType<{ id: string }, PurchaseView, void>('creditgate/purchase');
