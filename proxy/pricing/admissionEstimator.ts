/**
 * The gateway's estimator (proxy/gateway/context.ts AdmissionEstimator), backed by the ledger's
 * recent outputs per model. Typed structurally so pricing does not depend on the ledger module.
 */
import type { CostEstimate, CostEstimatorOptions, EstimateRequest, SettledSample } from './estimator';
import { CostEstimator } from './estimator';
import { countTextTokens } from './tokens';

export interface OutputHistorySource {
  /** Output tokens of the model's most recent posted requests, in any order. */
  recentOutputTokens(model: string): readonly number[];
}

/** Admission estimates and tokenizer counts, as the gateway uses them. */
export interface AdmissionEstimate {
  /** The hold's cost, with the input and output tokens it assumes. */
  estimate(request: EstimateRequest): CostEstimate;
  /** Learns from a settled request (real output and input sizes) for the next estimates. */
  record(model: string, sample: SettledSample): void;
  /** Real-tokenizer count, for billing a response that never reported its usage. */
  countTokens(text: string): number;
}

export function admissionEstimator(
  source: OutputHistorySource,
  options: Omit<CostEstimatorOptions, 'historyFor'> = {},
): AdmissionEstimate {
  const estimator = new CostEstimator({ ...options, historyFor: (model) => source.recentOutputTokens(model) });
  return {
    estimate: (request) => estimator.estimate(request),
    record: (model, sample) => estimator.record(model, sample),
    countTokens: countTextTokens,
  };
}
