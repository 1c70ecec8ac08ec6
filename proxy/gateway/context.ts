/** Everything a request handler needs from the running gateway, passed explicitly (no globals). */
import type Server from 'http-proxy';
import type { Micro } from '../../shared/money';
import type { RateCard } from '../../shared/rateCard';
import type { AdmissionEstimate } from '../pricing/admissionEstimator';
import type { LedgerBook } from '../ledger/book';
import type { Payments } from '../payments/service';
import type { GatewayLedger, SettlementPort } from './gatewayLedger';
import type { OpenExchanges } from './openExchanges';
import type { StatusFeed } from './statusFeed';
import type { UpstreamKeys, Upstreams } from './upstream';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type { AdmissionEstimate as AdmissionEstimator } from '../pricing/admissionEstimator';

/** A request target split at the query, as the router sees it. */
export interface RequestUrl {
  pathname: string;
  /** '' or the query with its leading '?'. */
  search: string;
}

/** How long the upstream may keep a request waiting. */
export interface UpstreamTimeouts {
  /** A non-streaming request, until its answer begins: the vendors send it whole, once generated. */
  answerMs: number;
  /** A streaming request, until the upstream's first byte. */
  firstByteMs: number;
  /** Once an answer has begun, the longest the upstream may go without sending a byte. */
  interByteMs: number;
}

export interface GatewayContext {
  /** Admissions, settlements and token lookups, on either store (gatewayLedger.ts). */
  ledger: GatewayLedger;
  /** The same ledger in the shape both stores share: account operations and reports. */
  book: LedgerBook;
  /** Charges and voids: each resolves once durable, and is kept until it lands when the database is locked or away. */
  settlements: SettlementPort;
  feed: StatusFeed;
  /** A team gateway's Stripe purchases (proxy/payments); null on the individual ledger. */
  payments: Payments | null;
  /** The status feed of a seat (a team's ledger), the gateway's own feed for the default seat. */
  feedFor(seat: string | undefined): StatusFeed;
  proxy: Server;
  upstreams: Upstreams;
  keys: UpstreamKeys;
  rateCard: RateCard;
  maxBodyBytes: number;
  overspendMargin: Micro;
  upstreamTimeouts: UpstreamTimeouts;
  /** Exchanges to end (and bill) when the gateway stops before they finish. */
  openExchanges: OpenExchanges;
  estimator: AdmissionEstimate;
  clock: () => number;
  log: Logger;
}
