/**
 * A stream's output text, read only when someone asks (a cut stream or a client that hung up is
 * billed from it): the delta events are kept as they pass and parsed on demand, once each.
 */
import { parseJson } from './json';
import type { SseEvent } from './sse';

export class DeferredText {
  private pending: SseEvent[] = [];
  private text = '';

  /** `extract` turns one parsed delta event into the text it carries ('' for none). */
  constructor(private readonly extract: (event: unknown) => string) {}

  add(event: SseEvent): void {
    this.pending.push(event);
  }

  /** All text so far; events already read are dropped, so repeated calls only parse new ones. */
  read(): string {
    for (const event of this.pending) this.text += this.extract(parseJson(event.data));
    this.pending = [];
    return this.text;
  }
}

const USAGE_KEY = Buffer.from('"usage"');
const NO_USAGE = Buffer.from('"usage":null');

/** Cheap test before parsing: OpenAI streams say `"usage":null` on every chunk but the one that counts. */
export function mayCarryUsage(event: SseEvent): boolean {
  return event.includes(USAGE_KEY) && !event.includes(NO_USAGE);
}
