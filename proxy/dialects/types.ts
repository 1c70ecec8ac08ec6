/**
 * The contract every API dialect module implements (one module per metered route family: Responses,
 * Chat Completions, Messages, legacy Completions, embeddings, images, speech, transcription,
 * moderation). The gateway knows HTTP; a dialect knows its API's request fields, its error shape, and
 * where its responses carry usage.
 */
import type { MeteredUsage, Vendor } from '../../shared/usage';

export type DialectName =
  | 'responses'
  | 'chat'
  | 'messages'
  | 'completions'
  | 'embeddings'
  | 'images'
  | 'speech'
  | 'transcriptions'
  | 'moderations';
export type UpstreamName = 'openai' | 'anthropic';

/** What the gateway needs to know about a validated request. */
export interface DialectRequest {
  model: string;
  stream: boolean;
  /** The request's own cap on output tokens (max_tokens, max_output_tokens, ...), when present. */
  maxOutputTokens: number | null;
  /** The request's prompt text (messages, input, system, tools), for a tokenizer-based input estimate. */
  promptText: string;
  /**
   * Usage fully known from the request alone (TTS: the characters of `input`). A successful response
   * without usage of its own (binary audio) is charged exactly this.
   */
  knownUsage?: MeteredUsage;
  /**
   * A conservative guess at what the request will cost beyond its prompt tokens (images to be made,
   * seconds of an uploaded recording, audio tokens of speech), charged as an estimate when the
   * response reports no usage; the gateway adds its own token count of promptText as input.
   */
  fallbackUsage?: MeteredUsage;
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
  | 'request_timeout' // 408: the client took too long to send its request
  | 'conflict' // 409 (an idempotency key reused for another purchase)
  | 'too_large' // 413
  | 'not_metered' // 403: a route the gateway refuses because it cannot meter it
  | 'usage_limit' // 429 (blocked)
  | 'upstream_key_rejected' // 403: the upstream refused the gateway's upstream API key, not the client's token
  | 'upstream_unavailable' // 502
  | 'ledger_busy' // 503 (another process holds the ledger's lock)
  | 'ledger_unavailable' // 503 (a team's ledger database cannot be reached)
  | 'gateway_stopping' // 503: the gateway is stopping and takes no new requests
  | 'too_many_connections' // 503: over the gateway's connection cap
  | 'upstream_timeout' // 504
  | 'ledger_full' // 507 (the ledger's disk is full)
  | 'internal'; // 500

/** Extra fields for the blocked 429 body on the OpenAI routes (docs/product.md §2, contract). */
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
   * After `beforeTerminal` answered 'hold': the held terminal event and everything since, with
   * `insertBefore` in front; from then on the stream passes as before.
   */
  release(insertBefore: Buffer | null): Buffer;
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
   * client just before that terminal event. Used to settle and inject `codex.rate_limits`. 'hold'
   * when those bytes are not known yet: the terminal event and what follows wait for `release`.
   */
  beforeTerminal?: (usage: MeteredUsage | null) => Buffer | null | 'hold';
}

/** What every /v1 route knows of its API, metered or not: the upstream serving it and its error shape. */
export interface ApiFamily {
  readonly vendor: Vendor;
  readonly upstream: UpstreamName;
  /**
   * A JSON error body in this API's own shape. For `usage_limit` pass UsageLimitDetails; an empty
   * message then gets the standard wording (plan and credits exhausted, reset time, how to add credits).
   * For `invalid_request` a Validation's `param` may be passed as `{ param }` (OpenAI's `error.param`).
   */
  errorBody(kind: GatewayErrorKind, message: string, details?: UsageLimitDetails | ErrorParam): unknown;
}

export interface Dialect extends ApiFamily {
  readonly name: DialectName;
  /**
   * Reads the buffered request body into the object validate() checks, for dialects whose bodies are
   * not always JSON (multipart uploads); rejects with a message for the client when it cannot. The
   * gateway uses JSON.parse when a dialect has none.
   */
  parseRequest?(raw: Buffer, contentType: string | undefined): Promise<unknown>;
  /** Checks the fields the gateway reads on the parsed body. */
  validate(body: unknown): Validation;
  /**
   * Returns the body to forward (the same object when nothing changes, which forwards the client's
   * bytes as they are) and whether the stream must have the usage-only chunk stripped (because the
   * gateway added include_usage itself).
   */
  prepare(body: Record<string, unknown>, request: DialectRequest): { body: Record<string, unknown>; stripUsageChunk: boolean };
  /**
   * Usage from a complete non-streaming JSON response body, or null if it has none. Large bodies
   * arrive as a skeleton: the `usage` objects (top level, and inside `response`/`message`), the
   * top-level scalars, and top-level arrays of the right length whose items are `{}`. So read counts
   * from array lengths, never from array items or long strings.
   */
  usageFromBody(body: unknown): MeteredUsage | null;
  createStreamMeter(options: StreamMeterOptions): StreamMeter;
}
