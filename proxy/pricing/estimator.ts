/**
 * The admission estimate (docs/product.md §1): input size plus a bounded output estimate, priced with costOf.
 * Coding agents send max_tokens of 64,000 on every turn while most turns produce a few hundred
 * tokens; holding the worst case would lock users out of an allowance they still have. The hold is
 * settled at the real cost, so overspend is bounded by one request's actual-minus-estimate.
 *
 * Input size comes from the vendors' own tokenizers: every settled request reports its real input
 * tokens, and the estimator learns each model's characters per token from them. That is exact for
 * Claude (whose tokenizer is not public) where o200k is not, and it keeps a 68 MiB tokenizer and
 * ~0.1 µs per prompt character off the request path.
 */
import type { Micro } from '../../shared/money';
import type { ModelRate } from '../../shared/rateCard';
import type { MeteredUsage, Vendor } from '../../shared/usage';
import { costOf } from './cost';

/**
 * With no history: most agent turns (a tool call, a short edit, a reply) stay well under 1,024
 * output tokens, and 1,024 is still 1/60 of Claude Code's 64,000, so the hold stays small.
 */
export const DEFAULT_OUTPUT_TOKENS = 1_024;
/** With history, never hold less than this: a run of one-word replies says little about the next turn. */
export const MIN_OUTPUT_TOKENS = 256;
/** Fewer samples than this are not a percentile; the default still applies as a lower bound. */
export const MIN_HISTORY = 5;
export const OUTPUT_PERCENTILE = 0.95;
/**
 * Characters per input token before a model has reported any: below what o200k gives for prose
 * (~4.2) and code (~3.5), so a first estimate errs towards holding more.
 */
export const DEFAULT_CHARS_PER_TOKEN = 3;
/** Recent requests whose input counts calibrate a model's characters per token. */
export const CALIBRATION_SAMPLES = 50;
/** The percentile is recomputed after this many new samples (a sort of up to 500 numbers). */
const PERCENTILE_EVERY = 16;

export interface EstimateRequest {
  model: string;
  rate: ModelRate;
  vendor: Vendor;
  /** The prompt text the dialect extracted (messages, input, system, tools). */
  promptText: string;
  /** The request's own output cap (max_tokens, max_output_tokens, ...), or null. */
  maxOutputTokens: number | null;
  /**
   * What the request itself says it will use in per-unit terms (images asked for, characters to
   * speak, seconds of an upload), priced on top of the token estimate: for per-image, per-character
   * and per-second models it is the whole of the cost.
   */
  unitUsage?: MeteredUsage;
}

export interface CostEstimate {
  inputTokens: number;
  outputTokens: number;
  cost: Micro;
}

/** Nearest-rank percentile of the samples (p in (0, 1]); null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? null;
}

/**
 * Output tokens to hold for: p95 of recent outputs (at least MIN_OUTPUT_TOKENS, and at least the
 * default while history is thin), capped by the request's own limit when that is smaller.
 */
export function estimateOutputTokens(recentP95: number | null, historySize: number, maxOutputTokens: number | null): number {
  const floor = historySize >= MIN_HISTORY ? MIN_OUTPUT_TOKENS : DEFAULT_OUTPUT_TOKENS;
  const expected = Math.max(floor, recentP95 ?? 0);
  return maxOutputTokens === null ? expected : Math.min(expected, maxOutputTokens);
}

/**
 * Prices the estimate as uncached input plus output: no cache discount is assumed, which is the
 * conservative side (agents' prompts are mostly cache hits, billed at a tenth of that).
 */
export function priceEstimate(rate: ModelRate, vendor: Vendor, inputTokens: number, outputTokens: number, units?: MeteredUsage): Micro {
  return costOf(rate, {
    vendor,
    inputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens,
    reasoningTokens: 0,
    images: units?.images,
    audioSeconds: units?.audioSeconds,
    characters: units?.characters,
  });
}

/** What a settled request teaches the estimator: its real output, and its prompt's real size. */
export interface SettledSample {
  outputTokens: number;
  /** Characters of the prompt text the estimate saw. */
  promptChars: number;
  /** All input tokens the vendor counted (cached and cache writes included). */
  inputTokens: number;
}

/**
 * A model's characters per input token over its recent requests (ratio of sums, so one tiny prompt
 * does not swing it), or the conservative default until the model has reported.
 */
class InputCalibration {
  private readonly chars: number[] = [];
  private readonly tokens: number[] = [];
  private charSum = 0;
  private tokenSum = 0;

  learn(promptChars: number, inputTokens: number): void {
    if (!(promptChars > 0 && inputTokens > 0)) return;
    this.chars.push(promptChars);
    this.tokens.push(inputTokens);
    this.charSum += promptChars;
    this.tokenSum += inputTokens;
    if (this.chars.length > CALIBRATION_SAMPLES) {
      this.charSum -= this.chars.shift()!;
      this.tokenSum -= this.tokens.shift()!;
    }
  }

  tokensFor(promptChars: number): number {
    const charsPerToken = this.tokenSum > 0 ? this.charSum / this.tokenSum : DEFAULT_CHARS_PER_TOKEN;
    return Math.ceil(promptChars / charsPerToken);
  }
}

export interface CostEstimatorOptions {
  /** Recent output-token counts for a model, in any order; the ledger decides how many. */
  historyFor: (model: string) => readonly number[];
  /** Re-read the ledger's history after this many recorded posts for a model. Default 100. */
  refreshEveryPosts?: number;
  /** ... or after this long. Default 60 s. */
  refreshAfterMs?: number;
  /** Samples kept per model as record() adds to them (the oldest go first). Default 500. */
  maxSamples?: number;
  now?: () => number;
}

interface ModelHistory {
  samples: number[];
  p95: number | null;
  /** Samples added since the percentile was last computed. */
  unsorted: number;
  postsUntilRefresh: number;
  refreshAt: number;
}

/**
 * Per-request estimator for the gateway: one ledger read per model per refresh period, and a
 * percentile recomputed only after new posts. record() keeps the history current in between.
 */
export class CostEstimator {
  private readonly historyFor: (model: string) => readonly number[];
  private readonly refreshEveryPosts: number;
  private readonly refreshAfterMs: number;
  private readonly maxSamples: number;
  private readonly now: () => number;
  private readonly models = new Map<string, ModelHistory>();
  private readonly calibrations = new Map<string, InputCalibration>();

  constructor(options: CostEstimatorOptions) {
    this.historyFor = options.historyFor;
    this.refreshEveryPosts = options.refreshEveryPosts ?? 100;
    this.refreshAfterMs = options.refreshAfterMs ?? 60_000;
    this.maxSamples = options.maxSamples ?? 500;
    this.now = options.now ?? Date.now;
  }

  estimate(request: EstimateRequest): CostEstimate {
    const inputTokens = this.calibrationOf(request.model).tokensFor(request.promptText.length);
    const outputTokens = this.outputTokensFor(request.model, request.maxOutputTokens);
    return { inputTokens, outputTokens, cost: priceEstimate(request.rate, request.vendor, inputTokens, outputTokens, request.unitUsage) };
  }

  outputTokensFor(model: string, maxOutputTokens: number | null): number {
    const history = this.historyOf(model);
    // While history is short every sample moves the percentile; after that, batches of them do.
    if (history.p95 === null || history.unsorted >= PERCENTILE_EVERY || (history.unsorted > 0 && history.samples.length < 2 * PERCENTILE_EVERY)) {
      history.p95 = percentile(history.samples, OUTPUT_PERCENTILE);
      history.unsorted = 0;
    }
    return estimateOutputTokens(history.p95, history.samples.length, maxOutputTokens);
  }

  /** Learns from a settled request: its output (reasoning included) and its real input size. */
  record(model: string, sample: SettledSample): void {
    this.calibrationOf(model).learn(sample.promptChars, sample.inputTokens);
    const outputTokens = sample.outputTokens;
    if (!Number.isFinite(outputTokens) || outputTokens < 0) return;
    const history = this.historyOf(model);
    history.samples.push(outputTokens);
    // Loaded samples sit before recorded ones and are all older, whatever order the ledger gave.
    if (history.samples.length > this.maxSamples) history.samples.splice(0, history.samples.length - this.maxSamples);
    history.unsorted += 1;
    history.postsUntilRefresh -= 1;
  }

  private calibrationOf(model: string): InputCalibration {
    let calibration = this.calibrations.get(model);
    if (!calibration) this.calibrations.set(model, (calibration = new InputCalibration()));
    return calibration;
  }

  private historyOf(model: string): ModelHistory {
    const cached = this.models.get(model);
    if (cached && cached.postsUntilRefresh > 0 && this.now() < cached.refreshAt) return cached;
    const fresh: ModelHistory = {
      samples: [...this.historyFor(model)],
      p95: null,
      unsorted: 0,
      postsUntilRefresh: this.refreshEveryPosts,
      refreshAt: this.now() + this.refreshAfterMs,
    };
    this.models.set(model, fresh);
    return fresh;
  }
}
