/**
 * The event streams of the per-unit dialects (image generation with partial images, speech as SSE,
 * streamed transcription): JSON events, named by their `type`, whose terminal event carries the usage.
 * They are only observed, never rewritten.
 */
import type { MeteredUsage } from '../../shared/usage';
import type { StreamMeter } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { field, sniffJsonType } from './json';

export interface EventStreamShape {
  /** Event types that carry the usage; the first one seen marks the stream complete. */
  terminalTypes: readonly string[];
  /** Usage of a terminal event; `terminalsSeen` counts it (an image stream sends one per image). */
  usageOf(event: unknown, terminalsSeen: number): MeteredUsage | null;
  /** The event type whose string `delta` is billed output text, for an estimate when usage never comes. */
  textDeltaType?: string;
}

class EventStreamObserver extends DialectObserver {
  private readonly terminalTypes: ReadonlySet<string>;
  private terminalsSeen = 0;

  constructor(private readonly shape: EventStreamShape) {
    super((event) => {
      const delta = field(event, 'delta');
      return typeof delta === 'string' ? delta : '';
    });
    this.terminalTypes = new Set(shape.terminalTypes);
  }

  onEvent(event: SseEvent): EventRewrite {
    const type = event.type || sniffJsonType(event.data);
    if (this.terminalTypes.has(type)) {
      this.terminal = true;
      this.terminalsSeen++;
      // A terminal event may repeat a whole image as base64: read for its usage only (SseEvent.usageView).
      this.lastUsage = this.shape.usageOf(event.usageView(), this.terminalsSeen) ?? this.lastUsage;
    } else if (type === this.shape.textDeltaType) {
      this.text.add(event);
    }
    return 'keep';
  }
}

export function eventStreamMeter(shape: EventStreamShape): StreamMeter {
  return new SseStreamMeter(new EventStreamObserver(shape), false);
}
