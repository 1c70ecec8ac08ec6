/**
 * What a dialect needs from a large JSON response body, read as the bytes pass, in bounded memory.
 *
 * A non-streaming response may be hundreds of megabytes (an image as base64, a huge completion), while
 * its usage is a few dozen bytes, usually at the very end. Keeping the whole body to JSON.parse it at
 * the end cost 4.5× its size in memory, and past V8's string limit (~512 MiB) the usage was lost. This
 * scanner walks the bytes once and keeps only a *skeleton* of the top-level object:
 *   - `usage`, and the `usage` inside a top-level `response` or `message` object, parsed in full;
 *   - top-level scalars (numbers, booleans, null, strings up to SCALAR_LIMIT bytes of JSON);
 *   - top-level arrays as arrays of the same length whose items are `{}` (images are counted this way);
 *   - other top-level objects as `{}`.
 * Everything else (the text, the image bytes) is skipped without being copied. Dialects read usage
 * from the skeleton exactly as from the parsed body (see Dialect.usageFromBody).
 *
 * It is not a validator: on malformed JSON the skeleton holds whatever was recognisable, and the
 * dialect then finds no usage, which bills an estimate, the same outcome as a failed JSON.parse.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Raw JSON bytes kept for one `usage` object; a bigger one is not usage as any vendor sends it. */
export const USAGE_LIMIT = 64 * 1024;
/** Raw JSON bytes kept for a top-level scalar (ids, model names, `created`, `duration`). */
export const SCALAR_LIMIT = 1024;
/** Longest object key worth reading; longer keys are never ones a dialect looks for. */
const KEY_LIMIT = 64;
/** Beyond this many items an array's skeleton is sparse (right length, no item objects). */
const DENSE_ARRAY_LIMIT = 4096;

/** Keys whose object value is searched for a nested `usage` (Responses' `response`, Anthropic's `message`). */
const USAGE_CONTAINERS = new Set(['response', 'message']);

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** A value being copied (a usage object or a top-level scalar): its bytes up to a limit. */
interface Capture {
  parts: Buffer[];
  bytes: number;
  limit: number;
  /** Container depth the value started at (for objects and arrays: the depth inside it). */
  depth: number;
  container: boolean;
  overflow: boolean;
  /** Where the parsed value goes: [top-level key] or [container key, 'usage']. */
  path: [string] | [string, 'usage'];
}

type ValueKind = 'object' | 'array' | 'scalar';

export class JsonSkeletonScanner {
  private readonly skeleton: Record<string, unknown> = {};
  /** null before the first value byte; false once the top level turned out not to be an object. */
  private topIsObject: boolean | null = null;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** One per open container (index = depth − 1): is it an object, its current key, whether a key comes next. */
  private readonly frames: { object: boolean; key: string | null; expectKey: boolean }[] = [];
  private keyParts: Buffer[] | null = null;
  private keyBytes = 0;
  private capture: Capture | null = null;
  /** Items of the top-level array being counted, and whether one has started since the last comma. */
  private arrayItems = 0;
  private arrayItemOpen = false;
  private done = false;

  push(chunk: Buffer): void {
    if (this.done) return;
    const length = chunk.length;
    // Start of the captured value's bytes in this chunk, or -1.
    let captureFrom = this.capture ? 0 : -1;
    // Next quote and backslash at or after i in this chunk (-1: none left; -2: not searched yet).
    let quoteAt = -2;
    let slashAt = -2;
    let i = 0;
    while (i < length) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        // Jump to the next quote or backslash: long strings (text, base64) are skipped by indexOf. Both
        // positions are kept while ahead of i, so a string full of escapes is still scanned once.
        if (quoteAt !== -1 && quoteAt < i) quoteAt = chunk.indexOf(QUOTE, i);
        if (slashAt !== -1 && slashAt < i) slashAt = chunk.indexOf(BACKSLASH, i);
        const quote = quoteAt;
        if (slashAt !== -1 && (quote === -1 || slashAt < quote)) {
          if (this.keyParts) this.addKeyBytes(chunk, i, slashAt + 1);
          this.escaped = true;
          i = slashAt + 1;
          continue;
        }
        const end = quote === -1 ? length : quote;
        if (this.keyParts) this.addKeyBytes(chunk, i, end);
        if (quote === -1) break;
        this.inString = false;
        i = quote + 1;
        if (this.keyParts) this.endKey();
        else if (this.capture && !this.capture.container && this.depth === this.capture.depth) {
          this.appendCapture(chunk, captureFrom, i);
          captureFrom = -1;
          this.finishCapture();
        }
        continue;
      }
      const byte = chunk[i]!;
      const delimiter = byte === COMMA || byte === CLOSE_OBJECT || byte === CLOSE_ARRAY || isWhitespace(byte);
      if (delimiter && this.capture && !this.capture.container) {
        // A captured number or literal ends at the first delimiter after it.
        this.appendCapture(chunk, captureFrom, i);
        captureFrom = -1;
        this.finishCapture();
      }
      if (isWhitespace(byte)) {
        i++;
        continue;
      }
      if (this.topIsObject === null) {
        this.topIsObject = byte === OPEN_OBJECT;
        if (!this.topIsObject) {
          this.done = true;
          return;
        }
      }
      const frame = this.frames[this.depth - 1];
      switch (byte) {
        case QUOTE:
          this.inString = true;
          if (frame?.object && frame.expectKey) {
            frame.expectKey = false;
            // Only the keys of the top level and of its objects are ever looked up.
            if (this.depth <= 2) {
              this.keyParts = [];
              this.keyBytes = 0;
            }
          } else if (this.beginValue('scalar')) captureFrom = i;
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          if (this.depth > 0 && this.beginValue(byte === OPEN_OBJECT ? 'object' : 'array')) captureFrom = i;
          this.depth++;
          this.frames.push({ object: byte === OPEN_OBJECT, key: null, expectKey: byte === OPEN_OBJECT });
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          this.closeContainer();
          if (this.capture?.container && this.depth < this.capture.depth) {
            this.appendCapture(chunk, captureFrom, i + 1);
            captureFrom = -1;
            this.finishCapture();
          }
          if (this.depth === 0) {
            this.done = true;
            return;
          }
          break;
        case COMMA:
          if (frame?.object) frame.expectKey = true;
          else if (this.depth === 2) this.arrayItemOpen = false;
          break;
        case COLON:
          break;
        default:
          // A number or literal: only its first byte starts a value.
          if (!(this.capture && !this.capture.container) && this.beginValue('scalar')) captureFrom = i;
      }
      i++;
    }
    if (this.capture && captureFrom !== -1) this.appendCapture(chunk, captureFrom, length);
  }

  /** The skeleton of the body so far (complete once the top-level object has closed); null if it is not an object. */
  result(): Record<string, unknown> | null {
    return this.topIsObject ? this.skeleton : null;
  }

  /** A value starts in the innermost container. Returns true when a capture starts with it. */
  private beginValue(kind: ValueKind): boolean {
    const frame = this.frames[this.depth - 1]!;
    if (this.depth === 2 && !frame.object) {
      if (this.arrayItemOpen) return false;
      this.arrayItems++;
      this.arrayItemOpen = true;
    }
    if (this.capture || !frame.object) return false;
    const key = frame.key;
    if (key === null) return false;
    if (this.depth === 1) {
      if (key === 'usage') return this.startCapture([key], kind, USAGE_LIMIT);
      if (kind === 'scalar') return this.startCapture([key], kind, SCALAR_LIMIT);
      if (kind === 'array') {
        this.arrayItems = 0;
        this.arrayItemOpen = false;
      } else this.skeleton[key] = {};
      return false;
    }
    const parent = this.frames[0]!.key;
    if (this.depth === 2 && key === 'usage' && parent !== null && USAGE_CONTAINERS.has(parent)) {
      return this.startCapture([parent, 'usage'], kind, USAGE_LIMIT);
    }
    return false;
  }

  /** Closes the innermost container; a top-level array becomes an array of as many items. */
  private closeContainer(): void {
    const frame = this.frames.pop();
    this.depth--;
    const key = this.frames[0]?.key;
    if (this.depth === 1 && frame && !frame.object && key != null && !this.capture) {
      const items: unknown[] = [];
      if (this.arrayItems <= DENSE_ARRAY_LIMIT) for (let n = 0; n < this.arrayItems; n++) items.push({});
      else items.length = this.arrayItems;
      this.skeleton[key] = items;
    }
  }

  private startCapture(path: Capture['path'], kind: ValueKind, limit: number): boolean {
    const container = kind !== 'scalar';
    // A container's value ends when the depth falls below the depth inside it.
    this.capture = { parts: [], bytes: 0, limit, depth: container ? this.depth + 1 : this.depth, container, overflow: false, path };
    return true;
  }

  private appendCapture(chunk: Buffer, from: number, to: number): void {
    const capture = this.capture;
    if (!capture || from < 0 || to <= from || capture.overflow) return;
    capture.bytes += to - from;
    if (capture.bytes > capture.limit) {
      capture.overflow = true;
      capture.parts = [];
      return;
    }
    capture.parts.push(chunk.subarray(from, to));
  }

  private finishCapture(): void {
    const capture = this.capture!;
    this.capture = null;
    if (capture.overflow) return;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(capture.parts).toString('utf8'));
    } catch {
      return;
    }
    const [first, second] = capture.path;
    if (second === undefined) this.skeleton[first] = value;
    else {
      const container = this.skeleton[first];
      if (typeof container === 'object' && container !== null && !Array.isArray(container)) {
        (container as Record<string, unknown>).usage = value;
      }
    }
  }

  private addKeyBytes(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.keyBytes += to - from;
    if (this.keyBytes <= KEY_LIMIT) this.keyParts!.push(chunk.subarray(from, to));
  }

  private endKey(): void {
    const frame = this.frames[this.depth - 1]!;
    const parts = this.keyParts!;
    this.keyParts = null;
    const key = this.keyBytes <= KEY_LIMIT ? Buffer.concat(parts).toString('utf8') : null;
    // Escaped keys are never ones a dialect reads; `__proto__` would change the skeleton's prototype.
    frame.key = key === null || key === '__proto__' || key.includes('\\') ? null : key;
  }
}
