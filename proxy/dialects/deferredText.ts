/**
 * A stream's output text, read only when someone asks (a cut stream or a client that hung up is
 * billed from it): the delta events' data is kept as it passes and parsed on demand, once each.
 *
 * The data is copied into one growing buffer rather than kept as the events themselves: an event
 * holds slices of the chunk it came in, and a stream outlives two young-generation collections, so
 * twenty kept events per stream meant twenty chunks, their slices and event objects promoted to the
 * old generation. Measured under 32 Responses streams: 375–381 → 212–215 KiB promoted per scavenge,
 * and mark-compacts from 8–9 to 5 per 3,000 streams.
 */
import { parseJson } from './json';
import type { SseEvent } from './sse';

const FIRST_CAPACITY = 1024;

export class DeferredText {
  /** The kept events' data, back to back; `ends[i]` is where the i-th one ends. */
  private bytes: Buffer | null = null;
  private used = 0;
  private ends: number[] = [];
  private text = '';

  /** `extract` turns one parsed delta event into the text it carries ('' for none). */
  constructor(private readonly extract: (event: unknown) => string) {}

  add(event: SseEvent): void {
    const data = event.dataBytes();
    const needed = this.used + data.length;
    if (this.bytes === null || needed > this.bytes.length) this.grow(needed);
    this.used += data.copy(this.bytes!, this.used);
    this.ends.push(this.used);
  }

  /** All text so far; data already read is dropped, so repeated calls only parse new events. */
  read(): string {
    const { bytes, ends } = this;
    let start = 0;
    for (const end of ends) {
      this.text += this.extract(parseJson(bytes!.toString('utf8', start, end)));
      start = end;
    }
    this.used = 0;
    this.ends = [];
    return this.text;
  }

  private grow(needed: number): void {
    // Doubling keeps the copying linear in the text's length.
    const capacity = this.bytes === null ? FIRST_CAPACITY : 2 * this.bytes.length;
    const grown = Buffer.allocUnsafe(Math.max(needed, capacity));
    this.bytes?.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }
}
