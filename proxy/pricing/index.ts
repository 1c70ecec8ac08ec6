export { costOf } from './cost';
export { defaultRateCard } from './defaultRateCard';
export type { CostEstimate, CostEstimatorOptions, EstimateRequest, SettledSample } from './estimator';
export { CostEstimator, estimateOutputTokens, percentile, priceEstimate } from './estimator';
export type { RateLookup } from './rates';
export { resolveRate } from './rates';
export { countTextTokens } from './tokens';
export type { AdmissionEstimate, OutputHistorySource } from './admissionEstimator';
export { admissionEstimator } from './admissionEstimator';
