/**
 * How the fake upstream misbehaves, set globally (`setBehavior`) or per request with the
 * `x-fake-behavior` header, which overrides the global settings field by field. The header takes
 * either JSON (`{"cutAfterEvents":3}`) or a comma list of switches:
 *
 *   delay=MS        wait before the first byte (status line and headers included)
 *   interval=MS     wait between stream events
 *   deltas=N        number of text delta events (the answer is split into N pieces; see answerPieces)
 *   cut=N           write N events, then destroy the socket (no terminal event, no chunk terminator)
 *   stall=N         write N events, then go silent with the connection open (until the client closes it)
 *   reset           destroy the socket before any byte of the response
 *   hang            never answer (for timeout tests); close() still ends it
 *   status=NNN      answer NNN with the vendor's own error body (e.g. 429, 500, 529)
 *   gzip | br       compress the body (streams too, flushed per event) whatever Accept-Encoding says
 *   no-usage        leave usage out (Responses usage null, no Chat usage chunk, no Anthropic usage)
 *   terminal=incomplete | terminal=failed   end a Responses stream with response.incomplete / .failed
 *   codex-headers   send the upstream's own x-codex-* rate-limit headers (the gateway must replace them)
 *   bytes=N         a non-streaming answer of N bytes in all, its text padded (written in 64 KiB
 *                   chunks; usage stays where the vendor puts it, after the text); not with a stream,
 *                   gzip or br
 */
export type FakeTerminal = 'completed' | 'incomplete' | 'failed';

export interface FakeBehavior {
  firstByteDelayMs: number;
  eventIntervalMs: number;
  deltas: number;
  cutAfterEvents: number | null;
  stallAfterEvents: number | null;
  resetBeforeResponse: boolean;
  hang: boolean;
  status: number | null;
  compression: 'gzip' | 'br' | null;
  omitUsage: boolean;
  terminal: FakeTerminal;
  codexHeaders: boolean;
  bodyBytes: number | null;
}

export const DEFAULT_BEHAVIOR: Readonly<FakeBehavior> = {
  firstByteDelayMs: 0,
  eventIntervalMs: 0,
  deltas: 8,
  cutAfterEvents: null,
  stallAfterEvents: null,
  resetBeforeResponse: false,
  hang: false,
  status: null,
  compression: null,
  omitUsage: false,
  terminal: 'completed',
  codexHeaders: false,
  bodyBytes: null,
};

/** Parses an `x-fake-behavior` header value into the fields it sets. Throws on an unknown switch. */
export function parseBehaviorHeader(value: string): Partial<FakeBehavior> {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed) as Partial<FakeBehavior>;
  const behavior: Partial<FakeBehavior> = {};
  for (const item of trimmed.split(',')) {
    const [rawName, rawValue = ''] = item.split('=', 2);
    const name = rawName?.trim() ?? '';
    const arg = rawValue.trim();
    switch (name) {
      case '':
        break;
      case 'delay':
        behavior.firstByteDelayMs = Number(arg);
        break;
      case 'interval':
        behavior.eventIntervalMs = Number(arg);
        break;
      case 'deltas':
        behavior.deltas = Number(arg);
        break;
      case 'cut':
        behavior.cutAfterEvents = Number(arg);
        break;
      case 'stall':
        behavior.stallAfterEvents = Number(arg);
        break;
      case 'reset':
        behavior.resetBeforeResponse = true;
        break;
      case 'hang':
        behavior.hang = true;
        break;
      case 'status':
        behavior.status = Number(arg);
        break;
      case 'gzip':
      case 'br':
        behavior.compression = name;
        break;
      case 'no-usage':
        behavior.omitUsage = true;
        break;
      case 'terminal':
        if (arg !== 'completed' && arg !== 'incomplete' && arg !== 'failed') throw new Error(`unknown terminal ${arg}`);
        behavior.terminal = arg;
        break;
      case 'codex-headers':
        behavior.codexHeaders = true;
        break;
      case 'bytes':
        behavior.bodyBytes = Number(arg);
        break;
      default:
        throw new Error(`unknown x-fake-behavior switch: ${name}`);
    }
  }
  return behavior;
}

/**
 * Token figures a response reports. Defaults (the rule tests can rely on): input_tokens =
 * ceil(request body bytes / 4); output_tokens = the number of delta events; everything else 0.
 * The `x-fake-usage` header (JSON with any of these snake_case fields) overrides field by field.
 */
export interface FakeUsage {
  input_tokens: number;
  cached_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cache_creation_input_tokens: number;
  /** Anthropic: the part of cache_creation_input_tokens written for an hour (`cache_creation.ephemeral_1h_input_tokens`). */
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
  /** OpenAI: the part of input_tokens written to the cache (`cache_write_tokens` in the input details). */
  cache_write_tokens: number;
  /** Images and transcription: the part of input_tokens that was image or audio tokens. */
  image_tokens: number;
  audio_tokens: number;
}

export function defaultUsage(requestBodyBytes: number, deltas: number): FakeUsage {
  return {
    input_tokens: Math.ceil(requestBodyBytes / 4),
    cached_tokens: 0,
    output_tokens: deltas,
    reasoning_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_creation_1h_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_write_tokens: 0,
    image_tokens: 0,
    audio_tokens: 0,
  };
}

/** The default answer: multi-byte characters on purpose, so byte-level splitting gets exercised. */
export const DEFAULT_TEXT = 'Hello from the fake upstream — naïve café ☕, 🚀 and 日本語.';

/**
 * Splits the answer into `n` non-empty delta pieces at code point boundaries. A text of its own
 * (`x-fake-text`) is never altered, so it yields at most one piece per code point; the default text
 * is repeated as needed, so `deltas=N` alone always gives N delta events.
 */
export function answerPieces(customText: string | undefined, n: number): string[] {
  const count = Math.max(1, Math.floor(n));
  let points = Array.from(customText ?? DEFAULT_TEXT);
  if (points.length === 0) points = [' '];
  while (customText === undefined && points.length < count) points = points.concat(Array.from(' ' + DEFAULT_TEXT));
  const pieceCount = Math.min(count, points.length);
  const pieces: string[] = [];
  for (let i = 0; i < pieceCount; i++) {
    pieces.push(points.slice(Math.floor((i * points.length) / pieceCount), Math.floor(((i + 1) * points.length) / pieceCount)).join(''));
  }
  return pieces;
}
