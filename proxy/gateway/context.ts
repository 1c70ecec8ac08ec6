/** Everything a request handler needs from the running gateway, passed explicitly (no globals). */
import type Server from 'http-proxy';
import type { Micro } from '../../shared/money';
import type { RateCard } from '../../shared/rateCard';
import type { AdmissionEstimate } from '../pricing/admissionEstimator';
import type { GroupCommit } from '../ledger/groupCommit';
import type { Ledger } from '../ledger/ledger';
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

export interface GatewayContext {
  ledger: Ledger;
  /** Admissions and charges: written with the rest of the event-loop turn's, in one transaction. */
  commits: GroupCommit;
  feed: StatusFeed;
  proxy: Server;
  upstreams: Upstreams;
  keys: UpstreamKeys;
  rateCard: RateCard;
  maxBodyBytes: number;
  overspendMargin: Micro;
  upstreamTimeoutMs: number;
  estimator: AdmissionEstimate;
  clock: () => number;
  log: Logger;
}
