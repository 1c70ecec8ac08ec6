/**
 * Token counting with a real tokenizer (o200k, the GPT-4o/GPT-5 encoding), for billing a response
 * whose usage never arrived (a cut stream, a client that hung up). Claude's tokenizer is not public;
 * o200k is a close stand-in.
 *
 * The encoding's rank tables cost ~68 MiB of memory and are needed only on that rare path, so the
 * module is loaded on first use, not at start-up (admission estimates use the vendors' own counts;
 * see estimator.ts).
 */
import path from 'node:path';
import type * as O200k from './o200k';

type Encoding = typeof O200k;

/** Set by esbuild.mjs to the encoding bundle's file name; undefined when running from source. */
declare const CREDITGATE_TOKENIZER_BUNDLE: string | undefined;

let loaded: Encoding['countTokens'] | null = null;

function countTokens(text: string, options: typeof AS_PLAIN_TEXT): number {
  loaded ??= loadEncoding().countTokens;
  return loaded(text, options);
}

/**
 * The bundles load the encoding's own bundle from beside them; running from source loads the package.
 * The module name is computed, so the bundler leaves the require as it is instead of inlining it.
 */
function loadEncoding(): Encoding {
  const module =
    typeof CREDITGATE_TOKENIZER_BUNDLE === 'string' ? path.join(__dirname, CREDITGATE_TOKENIZER_BUNDLE) : 'gpt-tokenizer/encoding/o200k_base';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(module) as Encoding;
}

// Prompts are user data: "<|endoftext|>" in a file must count as text, not throw.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * BPE merging is quadratic in the length of one pre-token, and a run of letters or punctuation is a
 * single pre-token: 100 KB of "=" took 7 s, 200 KB of "a" 25 s. Long whitespace-free runs are cut
 * into pieces this size (≤ 1 token of error per cut; on normal text this never triggers).
 */
const MAX_RUN = 256;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}`, 'g');

/**
 * Beyond this many characters, count evenly spaced samples totalling this size and extrapolate.
 * Measured here: ordinary code/prose counts at ~0.1 µs per character (a 40 KB Codex body in ~3 ms,
 * exactly), but high-entropy text (base64, hashes) costs ~1 µs per character, so the cap bounds the
 * worst case to ~60 ms of event-loop time at any body size.
 */
export const EXACT_COUNT_LIMIT = 64 * 1024;
const SAMPLES = 8;

/** o200k token count of free text: exact up to EXACT_COUNT_LIMIT characters, extrapolated beyond. */
export function countTextTokens(text: string): number {
  if (text.length <= EXACT_COUNT_LIMIT) return countExact(text);
  const sampleLength = Math.floor(EXACT_COUNT_LIMIT / SAMPLES);
  const stride = Math.floor((text.length - sampleLength) / (SAMPLES - 1));
  let sampled = 0;
  for (let i = 0; i < SAMPLES; i++) sampled += countExact(text.slice(i * stride, i * stride + sampleLength));
  return Math.ceil((sampled / (sampleLength * SAMPLES)) * text.length);
}

function countExact(text: string): number {
  let total = 0;
  let last = 0;
  for (const match of text.matchAll(LONG_RUN)) {
    total += countTokens(text.slice(last, match.index), AS_PLAIN_TEXT);
    const run = match[0];
    for (let i = 0; i < run.length; i += MAX_RUN) total += countTokens(run.slice(i, i + MAX_RUN), AS_PLAIN_TEXT);
    last = match.index + run.length;
  }
  return total + countTokens(text.slice(last), AS_PLAIN_TEXT);
}
