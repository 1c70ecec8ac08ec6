/**
 * An incremental Server-Sent Events framer over raw Buffer chunks (WHATWG "event stream" parsing).
 *
 * It scans bytes, not strings: line terminators (CR, LF, CRLF) are single bytes that never occur
 * inside a multi-byte UTF-8 sequence, so a chunk may end anywhere — even mid-character — and only the
 * unfinished line is kept, as slices of the chunks it came from. Nothing is decoded until asked for:
 * a consumer that only needs an event's name, or a cheap substring test, never pays for a string.
 */

import { usageView } from './usageView';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const NO_MATCH = -1;
const EMPTY = Buffer.alloc(0);

/** One dispatched event. `data` decodes lazily, so events nobody reads cost no string. */
export class SseEvent {
  #data: string | undefined;

  constructor(
    /** The `event:` field, or '' when absent (SSE's default type "message"). */
    readonly type: string,
    /** The value bytes of each `data:` line, in order. */
    private readonly dataLines: readonly Buffer[],
  ) {}

  /** The `data:` lines joined with "\n" (SSE semantics), decoded as UTF-8. */
  get data(): string {
    this.#data ??=
      this.dataLines.length === 1
        ? this.dataLines[0]!.toString('utf8')
        : this.dataLines.map((line) => line.toString('utf8')).join('\n');
    return this.#data;
  }

  /** The data as UTF-8 bytes: the line itself when there is one, else the joined text encoded. */
  dataBytes(): Buffer {
    return this.dataLines.length === 1 ? this.dataLines[0]! : Buffer.from(this.data);
  }

  /**
   * A substring test on the raw bytes, without decoding (for cheap "is this worth parsing?" checks).
   * The needle comes as UTF-8 bytes: a string needle would be encoded again on every event.
   */
  includes(needle: Buffer): boolean {
    if (this.dataLines.length === 1) return this.dataLines[0]!.includes(needle);
    return Buffer.from(this.data).includes(needle);
  }

  /** True when the data is exactly `text` (e.g. Chat's `[DONE]`), without decoding. */
  dataEquals(text: string): boolean {
    if (this.dataLines.length !== 1) return this.data === text;
    const line = this.dataLines[0]!;
    // A UTF-16 unit is 1 to 3 UTF-8 bytes: most events are far longer than the text, and are told
    // apart by their length alone, before the text's byte length is counted.
    if (line.length < text.length || line.length > 3 * text.length) return false;
    return line.length === Buffer.byteLength(text) && line.toString('utf8') === text;
  }

  /**
   * The data read for metering only (usage, types, counts), in a way that skips its text: parsed
   * from Latin-1, or scanned for its skeleton when large (usageView.ts). Undefined when not JSON.
   */
  usageView(): unknown {
    return usageView(this.dataBytes());
  }

  /** The data parsed as JSON, or undefined when it is not JSON. */
  json(): unknown {
    try {
      return JSON.parse(this.data);
    } catch {
      return undefined;
    }
  }
}

/**
 * Called at every blank line (the end of an event block). `event` is null when the block carried no
 * `data:` line (comments, keep-alives, stray blank lines), which SSE does not dispatch. `end` is the
 * offset in the chunk being pushed just past the blank line's terminator (0 during `end()`).
 */
export type SseListener = (event: SseEvent | null, end: number) => void;

/**
 * The largest event the framer assembles. The biggest real ones are Responses' terminal events, which
 * repeat the whole output (a few MiB with generated images); a longer event is a broken stream, not a
 * reason to hold hundreds of megabytes.
 */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

export class SseFramer {
  /** An event grew past the limit: the framer has stopped and dropped what it held. */
  overflowed = false;
  /** Bytes held for the event being assembled: its data lines, and the unfinished line. */
  private eventBytes = 0;
  private partialBytes = 0;
  /** Pieces of a line that started in an earlier chunk and has not ended yet. */
  private partialLine: Buffer[] = [];
  /** The previous chunk ended in CR: a leading LF in the next one completes that CRLF. */
  private skipLeadingLf = false;
  private atStreamStart = true;
  private eventType = '';
  private dataLines: Buffer[] = [];

  constructor(
    private readonly listener: SseListener,
    private readonly maxEventBytes = MAX_EVENT_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let lineStart = 0;
    if (this.skipLeadingLf && chunk.length > 0) {
      this.skipLeadingLf = false;
      if (chunk[0] === LF) lineStart = 1;
    }
    if (this.atStreamStart && chunk.length > 0) lineStart = this.skipByteOrderMark(chunk, lineStart);

    // indexOf for both terminators, each searched again only once passed: linear in the chunk size.
    let nextLf = chunk.indexOf(LF, lineStart);
    let nextCr = chunk.indexOf(CR, lineStart);
    while (nextLf !== NO_MATCH || nextCr !== NO_MATCH) {
      const isCr = nextCr !== NO_MATCH && (nextLf === NO_MATCH || nextCr < nextLf);
      const lineEnd = isCr ? nextCr : nextLf;
      let next = lineEnd + 1;
      if (isCr) {
        if (next === chunk.length) this.skipLeadingLf = true;
        else if (chunk[next] === LF) next += 1;
      }
      if (this.partialLine.length === 0) this.takeLine(chunk, lineStart, lineEnd, next);
      else {
        const line = this.completeLine(chunk, lineStart, lineEnd);
        this.takeLine(line, 0, line.length, next);
      }
      if (this.overflowed) return;
      lineStart = next;
      if (nextLf !== NO_MATCH && nextLf < lineStart) nextLf = chunk.indexOf(LF, lineStart);
      if (nextCr !== NO_MATCH && nextCr < lineStart) nextCr = chunk.indexOf(CR, lineStart);
    }
    if (lineStart < chunk.length) {
      this.partialLine.push(chunk.subarray(lineStart));
      this.partialBytes += chunk.length - lineStart;
      this.count(0);
    }
  }

  /**
   * The stream ended. A final line without a terminator, and an event without its closing blank
   * line, are still dispatched: an upstream that cut off right after its usage event is billed on it.
   */
  end(): void {
    if (this.overflowed) return;
    if (this.partialLine.length > 0) {
      const line = this.completeLine(EMPTY, 0, 0);
      this.takeLine(line, 0, line.length, 0);
    }
    if (this.dataLines.length > 0) this.dispatch(0);
  }

  /** A line that began in earlier chunks, joined with its end in this one. */
  private completeLine(chunk: Buffer, start: number, end: number): Buffer {
    this.partialLine.push(chunk.subarray(start, end));
    const line = Buffer.concat(this.partialLine);
    this.partialLine = [];
    this.partialBytes = 0;
    return line;
  }

  /**
   * The line `bytes[start, lineEnd)`, read in place: only a data value becomes a slice, since its
   * event keeps it; names, comments and blank lines allocate nothing. `next` is where the chunk goes
   * on after the line's terminator.
   */
  private takeLine(bytes: Buffer, start: number, lineEnd: number, next: number): void {
    if (start === lineEnd) return this.dispatch(next);
    if (bytes[start] === COLON) return; // comment

    // Only `data` and `event` are read: a name longer than those is skipped without a search through
    // the rest of the chunk (the line is not a slice of its own, so indexOf would run past its end).
    let nameEnd = lineEnd;
    const searchEnd = Math.min(lineEnd, start + LONGEST_FIELD + 1);
    for (let i = start; i < searchEnd; i++) {
      if (bytes[i] === COLON) {
        nameEnd = i;
        break;
      }
    }
    if (nameEnd - start > LONGEST_FIELD) return;
    let valueStart = nameEnd === lineEnd ? lineEnd : nameEnd + 1;
    if (valueStart < lineEnd && bytes[valueStart] === SPACE) valueStart += 1;

    if (isField(bytes, start, nameEnd, DATA)) {
      this.dataLines.push(bytes.subarray(valueStart, lineEnd));
      this.count(lineEnd - valueStart);
    }
    else if (isField(bytes, start, nameEnd, EVENT)) this.eventType = eventTypeAt(bytes, valueStart, lineEnd);
    // `id` and `retry` matter to reconnecting browsers, not to a meter.
  }

  private dispatch(end: number): void {
    const event = this.dataLines.length > 0 ? new SseEvent(this.eventType, this.dataLines) : null;
    this.eventType = '';
    this.dataLines = [];
    this.eventBytes = 0;
    this.listener(event, end);
  }

  /** Counts bytes held for the current event; past the limit the stream is declared broken. */
  private count(bytes: number): void {
    this.eventBytes += bytes;
    if (this.eventBytes + this.partialBytes <= this.maxEventBytes) return;
    this.overflowed = true;
    this.partialLine = [];
    this.dataLines = [];
  }

  private skipByteOrderMark(chunk: Buffer, offset: number): number {
    this.atStreamStart = false;
    const hasBom = chunk[offset] === 0xef && chunk[offset + 1] === 0xbb && chunk[offset + 2] === 0xbf;
    return hasBom ? offset + 3 : offset;
  }
}

const DATA = Buffer.from('data');
const EVENT = Buffer.from('event');
const LONGEST_FIELD = EVENT.length;

function isField(bytes: Buffer, start: number, nameEnd: number, name: Buffer): boolean {
  if (nameEnd - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[start + i] !== name[i]) return false;
  return true;
}

/**
 * Event names, decoded once per process: streams repeat a handful of them (every Responses delta is
 * `response.output_text.delta`), so names already seen are matched in place, by length and bytes.
 * Shared by all streams and bounded: past KNOWN_TYPES the oldest entry makes room.
 */
const KNOWN_TYPES = 32;
const knownTypes: { bytes: Buffer; name: string }[] = [];
let nextToReplace = 0;

function eventTypeAt(bytes: Buffer, start: number, end: number): string {
  const length = end - start;
  for (const type of knownTypes) {
    if (type.bytes.length === length && type.bytes.compare(bytes, start, end) === 0) return type.name;
  }
  const name = bytes.toString('utf8', start, end);
  const entry = { bytes: Buffer.from(bytes.subarray(start, end)), name };
  if (knownTypes.length < KNOWN_TYPES) knownTypes.push(entry);
  else {
    knownTypes[nextToReplace] = entry;
    nextToReplace = (nextToReplace + 1) % KNOWN_TYPES;
  }
  return name;
}
