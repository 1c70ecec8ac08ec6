/** Everything a request handler needs from the running gateway, passed explicitly (no globals). */
import type { Agent } from 'node:http';
import type Server from 'http-proxy';
import type { Micro } from '../../shared/money';
import type { ModelRate, RateCard } from '../../shared/rateCard';
import type { Vendor } from '../../shared/usage';
import type { Ledger } from '../ledger/ledger';
import type { StatusFeed } from './statusFeed';
import type { UpstreamEndpoints, UpstreamKeys } from './upstream';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Admission estimates and tokenizer counts (proxy/pricing), as the gateway uses them. */
export interface AdmissionEstimator {
  estimate(request: { model: string; rate: ModelRate; vendor: Vendor; promptText: string; maxOutputTokens: number | null }): Micro;
  /** Learns a model's real output size after a post, for the next estimates. */
  record(model: string, outputTokens: number): void;
  countTokens(text: string): number;
}

export interface GatewayContext {
  ledger: Ledger;
  feed: StatusFeed;
  proxy: Server;
  agents: { http: Agent; https: Agent };
  endpoints: UpstreamEndpoints;
  keys: UpstreamKeys;
  rateCard: RateCard;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  estimator: AdmissionEstimator;
  clock: () => number;
  log: Logger;
}
