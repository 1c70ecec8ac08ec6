/** The ledger benchmarks' workload: one model with round prices, a request and its usage. */
import type { RateCard } from '../../shared/rateCard';
import type { MeteredUsage } from '../../shared/usage';

export const BENCH_RATE_CARD: RateCard = {
  version: 'bench',
  creditUsd: 0.04,
  models: { 'bench-model': { feature: 'assistant', input: 1.25, cached_input: 0.125, output: 10 } },
  default: null,
  packs: [],
};

export const BENCH_USAGE: MeteredUsage = { vendor: 'openai', inputTokens: 1_000, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 100, reasoningTokens: 0 };

export const BENCH_REQUEST = { requestId: 'bench', client: 'bench', model: 'bench-model', route: '/v1/responses', feature: 'assistant', estimate: 3_000 };
