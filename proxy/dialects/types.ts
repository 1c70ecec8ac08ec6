/**
 * The contract every API dialect module implements (one module per dialect: Responses, Chat
 * Completions, Messages, plus the generic pass-through). The gateway knows HTTP; a dialect knows its
 * API's request fields, its error shape, and where its responses carry usage.
 */
import type { MeteredUsage, Vendor } from '../../shared/usage';

export type DialectName = 'responses' | 'chat' | 'messages' | 'passthrough';
export type UpstreamName = 'openai' | 'anthropic';

/** What the gateway needs to know about a validated request. */
export interface DialectRequest {
  model: string;
  stream: boolean;
  /** The request's own cap on output tokens (max_tokens, max_output_tokens, ...), when present. */
  maxOutputTokens: number | null;
  /** The request's prompt text (messages, input, system, tools), for a tokenizer-based input estimate. */
  promptText: string;
}

export type Validation =
  | { ok: true; request: DialectRequest }
  | { ok: false; message: string; param: string | null };

/** Kinds of errors the gateway itself answers, each mapped to the dialect's own error type. */
export type GatewayErrorKind =
  | 'invalid_request' // 400
  | 'authentication' // 401
  | 'permission' // 403
  | 'not_found' // 404
  | 'too_large' // 413
  | 'usage_limit' // 429 (blocked)
  | 'upstream_key_rejected' // 403: the upstream refused the gateway's upstream API key, not the client's token
  | 'upstream_unavailable' // 502
  | 'upstream_timeout' // 504
  | 'internal'; // 500

/** Extra fields for the blocked 429 body on the OpenAI routes (SPEC §2, contract). */
export interface UsageLimitDetails {
  planType: string;
  /** Unix seconds when a reset would unblock, or null. */
  resetsAt: number | null;
  /** The client is Codex CLI (it sends `originator`): plan_type is then named so Codex shows no upsell. */
  codexClient?: boolean;
}

/** The request field an error is about (OpenAI's `error.param`). */
export interface ErrorParam {
  param: string | null;
}

/** Observes a (decoded) upstream event stream as it passes through, and rewrites it where needed. */
export interface StreamMeter {
  /**
   * Feeds one upstream chunk and returns what to write to the client now. Bytes pass through
   * unchanged and at once, except where the dialect must rewrite an event (the Chat usage chunk the
   * client did not ask for; the codex.rate_limits event before a terminal Responses event); then the
   * bytes of an incomplete event wait for the rest of that event only.
   */
  push(chunk: Buffer): Buffer;
  /** Called once when the upstream stream ends (normally or not); returns any bytes still held back. */
  end(): Buffer;
  /** Usage reported by the upstream so far (the last reported figures win), or null if none yet. */
  usage(): MeteredUsage | null;
  /** True once the dialect's terminal event (response.completed, message_stop, [DONE] ...) was seen. */
  sawTerminal(): boolean;
  /** Output text streamed to the client so far, for a tokenizer estimate when usage never arrives. */
  streamedText(): string;
  /** True once the stream cannot be metered any more (an event past the size limit): end it as cut. */
  broken(): boolean;
  /**
   * From now on (call before the first push) return complete events only, holding an unfinished one
   * back, so that the gateway can end the stream between two events.
   */
  wholeEventsOnly(): void;
}

export interface StreamMeterOptions {
  /** Chat only: remove the usage-only chunk because the client did not ask for it. */
  stripUsageChunk?: boolean;
  /**
   * Responses only: called synchronously when a terminal event (response.completed / incomplete /
   * failed) has arrived, with its usage; the returned bytes (a full SSE event) are written to the
   * client just before that terminal event. Used to settle and inject `codex.rate_limits`.
   */
  beforeTerminal?: (usage: MeteredUsage | null) => Buffer | null;
}

export interface Dialect {
  readonly name: DialectName;
  readonly vendor: Vendor;
  readonly upstream: UpstreamName;
  /** Checks the fields the gateway reads (SPEC §6 Validation) on an already JSON-parsed body. */
  validate(body: unknown): Validation;
  /**
   * Returns the body to forward (the same object when nothing changes) and whether the stream must
   * have the Chat usage chunk stripped (because the gateway added include_usage itself).
   */
  prepare(body: Record<string, unknown>, request: DialectRequest): { body: Record<string, unknown>; stripUsageChunk: boolean };
  /**
   * A JSON error body in this API's own shape. For `usage_limit` pass UsageLimitDetails; an empty
   * message then gets the standard wording (plan and credits exhausted, reset time, how to add credits).
   * For `invalid_request` a Validation's `param` may be passed as `{ param }` (OpenAI's `error.param`).
   */
  errorBody(kind: GatewayErrorKind, message: string, details?: UsageLimitDetails | ErrorParam): unknown;
  /** Usage from a complete non-streaming JSON response body, or null if it has none. */
  usageFromBody(body: unknown): MeteredUsage | null;
  createStreamMeter(options: StreamMeterOptions): StreamMeter;
}
