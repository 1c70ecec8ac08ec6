/** What a missing config file (or a missing key) means. */

export const DEFAULT_PLAN = 'plus';
export const DEFAULT_PORT = 8788;
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
/** 10 minutes: agents stream long reasoning turns; a shorter cut would bill a half-finished answer. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 600_000;
/** Node's timers overflow above 2^31 − 1 ms and fire after 1 ms instead (with only a warning). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
