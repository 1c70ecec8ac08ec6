/**
 * The StreamMeter every SSE dialect shares: the framer parses on the side, a dialect's observer reads
 * the events, and — only when the dialect may rewrite — complete events are re-emitted as slices of
 * the chunks they came from while the unfinished event's bytes wait for the rest of it.
 */
import type { MeteredUsage } from '../../shared/usage';
import type { StreamMeter } from './types';
import { DeferredText } from './deferredText';
import { SseFramer, type SseEvent } from './sse';

const EMPTY: Buffer = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;

/**
 * What to do with an event when the meter rewrites: keep it, drop it, put bytes before it, or hold it
 * and everything after it back until `release` (what goes before it is not known yet).
 */
export type EventRewrite = 'keep' | 'drop' | { insertBefore: Buffer } | 'hold';

/** A dialect's reading of its event stream. */
export interface SseObserver {
  onEvent(event: SseEvent): EventRewrite;
  usage(): MeteredUsage | null;
  sawTerminal(): boolean;
  streamedText(): string;
}

/**
 * What every dialect's observer keeps (the last usage reported, whether the terminal event came, the
 * output text) and the meter's three reads of it; a dialect supplies onEvent and its text extractor.
 */
export abstract class DialectObserver implements SseObserver {
  protected lastUsage: MeteredUsage | null = null;
  protected terminal = false;
  protected readonly text: DeferredText;

  /** `extractText` turns one parsed delta event into the output text it carries. */
  constructor(extractText: (event: unknown) => string) {
    this.text = new DeferredText(extractText);
  }

  abstract onEvent(event: SseEvent): EventRewrite;

  usage(): MeteredUsage | null {
    return this.lastUsage;
  }

  sawTerminal(): boolean {
    return this.terminal;
  }

  streamedText(): string {
    return this.text.read();
  }
}

export class SseStreamMeter implements StreamMeter {
  private readonly framer = new SseFramer((event, end) => this.onBlock(event, end));
  /** Bytes of the current, unfinished event from earlier chunks (rewriting only). */
  private held: Buffer[] = [];
  private chunk: Buffer = EMPTY;
  /** Start of the current event in `chunk`; everything before it has been decided. */
  private eventStart = 0;
  /** Start of the run of kept bytes in `chunk` not yet moved to `out`. */
  private keptFrom = 0;
  private out: Buffer[] = [];
  /**
   * The last block ended the previous chunk with CR: a leading LF in the next chunk completes its
   * CRLF, so it goes wherever that block went (kept, or dropped with it).
   */
  private crEndedBlock: 'kept' | 'dropped' | null = null;
  /** From a held event on: the bytes the client gets only on `release`; null while nothing is held. */
  private withheld: Buffer[] | null = null;
  /** Where in `chunk` the held part begins (the event that asked for the hold), or -1. */
  private holdFrom = -1;

  constructor(
    private readonly observer: SseObserver,
    /** False: observe only, and hand every chunk back untouched. */
    private rewrites: boolean,
  ) {}

  push(chunk: Buffer): Buffer {
    if (this.withheld) {
      // Everything after a held event waits with it; the observer still reads it.
      this.framer.push(chunk);
      this.withheld.push(chunk);
      return EMPTY;
    }
    if (!this.rewrites) {
      this.framer.push(chunk);
      return chunk;
    }
    this.beginChunk(chunk);
    this.framer.push(chunk);
    const out = this.finishChunk();
    if (this.framer.overflowed) this.held = [];
    return out;
  }

  wholeEventsOnly(): void {
    // The rewriting path already emits whole events only; with every event kept it rewrites nothing.
    this.rewrites = true;
  }

  broken(): boolean {
    return this.framer.overflowed;
  }

  end(): Buffer {
    if (this.withheld) {
      this.framer.end();
      return EMPTY;
    }
    if (!this.rewrites) {
      this.framer.end();
      return EMPTY;
    }
    this.beginChunk(EMPTY);
    this.framer.end();
    const out = this.finishChunk();
    const rest = this.held;
    this.held = [];
    return rest.length === 0 ? out : Buffer.concat([out, ...rest]);
  }

  release(insertBefore: Buffer | null): Buffer {
    const withheld = this.withheld ?? [];
    this.withheld = null;
    const parts = insertBefore && insertBefore.length > 0 ? [insertBefore, ...withheld] : withheld;
    return parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  usage(): MeteredUsage | null {
    return this.observer.usage();
  }

  sawTerminal(): boolean {
    return this.observer.sawTerminal();
  }

  streamedText(): string {
    return this.observer.streamedText();
  }

  private onBlock(event: SseEvent | null, end: number): void {
    const rewrite = event === null ? 'keep' : this.observer.onEvent(event);
    if (!this.rewrites || this.holdFrom >= 0) return;

    if (rewrite === 'hold') {
      // This event's bytes from earlier chunks, then the rest of this chunk (finishChunk), wait.
      this.flushKept(this.eventStart);
      this.withheld = this.held;
      this.held = [];
      this.holdFrom = this.eventStart;
      return;
    }
    if (rewrite === 'drop') {
      this.flushKept(this.eventStart);
      this.keptFrom = end;
    } else if (rewrite !== 'keep') {
      this.flushKept(this.eventStart);
      this.out.push(rewrite.insertBefore, ...this.held);
      this.keptFrom = this.eventStart;
    } else if (this.held.length > 0) {
      this.out.push(...this.held); // only the chunk's first event can have held bytes: nothing precedes them
    }
    this.held = [];
    this.eventStart = end;
    const endsChunkWithCr = end > 0 && end === this.chunk.length && this.chunk[end - 1] === CR;
    this.crEndedBlock = endsChunkWithCr ? (rewrite === 'drop' ? 'dropped' : 'kept') : null;
  }

  private beginChunk(chunk: Buffer): void {
    const continuesCrlf = this.crEndedBlock !== null && chunk.length > 0 && chunk[0] === LF;
    this.chunk = chunk;
    this.out = [];
    this.eventStart = continuesCrlf ? 1 : 0;
    this.keptFrom = continuesCrlf && this.crEndedBlock === 'dropped' ? 1 : 0;
    if (chunk.length > 0) this.crEndedBlock = null;
  }

  private finishChunk(): Buffer {
    const { chunk } = this;
    if (this.holdFrom >= 0) {
      if (this.holdFrom < chunk.length) this.withheld!.push(chunk.subarray(this.holdFrom));
      this.holdFrom = -1;
      this.eventStart = this.keptFrom = chunk.length;
    }
    if (this.held.length === 0 && this.eventStart === chunk.length && this.keptFrom === 0 && this.out.length === 0) {
      return chunk; // whole events only, all kept: the chunk itself, no copy
    }
    this.flushKept(this.eventStart);
    if (this.eventStart < chunk.length) this.held.push(chunk.subarray(this.eventStart));
    this.chunk = EMPTY;
    const { out } = this;
    this.out = [];
    if (out.length === 0) return EMPTY;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private flushKept(upTo: number): void {
    if (upTo > this.keptFrom) this.out.push(this.chunk.subarray(this.keptFrom, upTo));
    this.keptFrom = upTo;
  }
}
