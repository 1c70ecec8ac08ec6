/**
 * What a response consumed, as the vendor reported it. The token fields keep each vendor's meaning
 * (docs/product.md §6): for `openai`, inputTokens includes cachedInputTokens and cacheWriteTokens, and
 * outputTokens includes reasoningTokens; for `anthropic`, inputTokens excludes cache reads and cache
 * writes.
 */
export type Vendor = 'openai' | 'anthropic';

export interface MeteredUsage {
  vendor: Vendor;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** Anthropic only: the part of cacheWriteTokens written for an hour rather than five minutes. Absent means none. */
  cacheWrite1hTokens?: number;
  /**
   * OpenAI only: the part of inputTokens that was image or audio tokens (image edits, transcription),
   * which the vendor prices apart from text input. Absent means none.
   */
  imageInputTokens?: number;
  audioInputTokens?: number;
  /** Non-token features (images, audio, characters), priced by the rate card's per-unit prices. */
  images?: number;
  audioSeconds?: number;
  characters?: number;
}

/**
 * Why a usage row is an estimate rather than the upstream's own figures.
 * `spend_limit`: the gateway ended the stream because its cost reached what the account could pay.
 * `gateway_stop`: the gateway was stopped (SIGTERM, the editor closing) and ended the answer after its
 * grace period; `gateway_restart` is a hold a gateway that died left open, settled by the next one.
 */
export type EstimateReason = 'client_disconnect' | 'upstream_cut' | 'gateway_restart' | 'gateway_stop' | 'no_usage' | 'spend_limit';

export function emptyUsage(vendor: Vendor): MeteredUsage {
  return { vendor, inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}
