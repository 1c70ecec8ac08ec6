/** What a missing config file (or a missing key) means. */

export const DEFAULT_PLAN = 'plus';
export const DEFAULT_PORT = 8788;
/** Loopback: only this machine's clients reach the gateway unless `--host` says otherwise. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_UPSTREAMS = {
  openai: { baseUrl: 'https://api.openai.com/v1' },
  anthropic: { baseUrl: 'https://api.anthropic.com' },
} as const;
/** 32 MiB: Codex bodies are ~40 KB, but image and file inputs are inlined as base64. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/**
 * Half a credit ($0.02 at the default card): room for a prompt that tokenises longer than estimated
 * and for the last chunk of a stream the gateway stops, never a second request's worth.
 */
export const DEFAULT_OVERSPEND_MARGIN_CREDITS = 0.5;
/**
 * 10 minutes for a non-streaming answer to begin: the vendors send it whole, once generated, and their
 * own SDKs wait this long. A sooner cut loses an answer the vendor bills anyway.
 */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 600_000;
/** A stream's status line and headers come at once; 2 minutes covers a vendor queueing a reasoning model. */
export const DEFAULT_UPSTREAM_FIRST_BYTE_TIMEOUT_MS = 120_000;
/**
 * 5 minutes of silence in the middle of an answer: reasoning models go quiet for long stretches while
 * they think, and Codex itself waits this long between events. The gateway should not give up on a
 * stream sooner than its client would.
 */
export const DEFAULT_UPSTREAM_INTER_BYTE_TIMEOUT_MS = 300_000;
/** A local client sends its headers in one go; 10 s is plenty even on a loaded machine. */
export const DEFAULT_REQUEST_HEADERS_TIMEOUT_MS = 10_000;
/** The whole request, headers and body: 32 MiB over loopback takes well under a second. */
export const DEFAULT_REQUEST_BODY_TIMEOUT_MS = 60_000;
/** How long a kept-alive connection may sit idle between requests (Node's own default). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Matches the upstream agents' socket pool: more clients than that would queue upstream anyway. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** How long a stopping gateway lets the streams in flight finish before it ends and bills them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** Node's timers overflow above 2^31 − 1 ms and fire after 1 ms instead (with only a warning). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
