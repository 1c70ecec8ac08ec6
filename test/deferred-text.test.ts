import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { DeferredText } from '../proxy/dialects/deferredText';
import { SseFramer, type SseEvent } from '../proxy/dialects/sse';
import { splitAt } from './helpers/splitAt';

const deltaOf = (event: unknown): string => {
  const delta = (event as { delta?: unknown } | undefined)?.delta;
  return typeof delta === 'string' ? delta : '';
};

/** The events of an SSE text, as the framer dispatches them from the given chunks. */
function framed(chunks: Buffer[]): SseEvent[] {
  const events: SseEvent[] = [];
  const framer = new SseFramer((event) => {
    if (event) events.push(event);
  });
  for (const chunk of chunks) framer.push(chunk);
  framer.end();
  return events;
}

/** One delta event; `split` spreads its JSON over two `data:` lines, which SSE joins with "\n". */
function deltaEvent(text: string, split: boolean): string {
  const json = JSON.stringify({ type: 'delta', delta: text });
  if (!split) return `data: ${json}\n\n`;
  const comma = json.indexOf(',');
  return `data: ${json.slice(0, comma + 1)}\ndata: ${json.slice(comma + 1)}\n\n`;
}

const textArb = fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '\n', 'é', '☕', '🚀', '日', '\u2028'), maxLength: 300 });

describe('DeferredText', () => {
  it('reads back the text of every event added, however the events came in and whenever it is read', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ text: textArb, split: fc.boolean(), readAfter: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (deltas, cuts) => {
          const bytes = Buffer.from(deltas.map((d) => deltaEvent(d.text, d.split)).join(''));
          const events = framed(splitAt(bytes, cuts));
          expect(events).toHaveLength(deltas.length);
          const deferred = new DeferredText(deltaOf);
          let expected = '';
          events.forEach((event, i) => {
            deferred.add(event);
            expected += deltas[i]!.text;
            if (deltas[i]!.readAfter) expect(deferred.read()).toBe(expected);
          });
          expect(deferred.read()).toBe(expected);
          expect(deferred.read()).toBe(expected); // a second read parses nothing new and adds nothing
        },
      ),
    );
  });

  it('keeps every byte of a long answer, its buffer growing many times over, read in between or only at the end', () => {
    // 600 events of ~230 bytes: 138 KB of data, past the first kilobyte many doublings ago.
    const texts = Array.from({ length: 600 }, (_, i) => `${i}:${'é☕ token '.repeat(20)}`);
    const events = framed([Buffer.from(texts.map((text, i) => deltaEvent(text, i % 7 === 0)).join(''))]);
    const readOnce = new DeferredText(deltaOf);
    const readOften = new DeferredText(deltaOf);
    let expected = '';
    events.forEach((event, i) => {
      readOnce.add(event);
      readOften.add(event);
      expected += texts[i];
      if (i % 50 === 49) expect(readOften.read()).toBe(expected);
    });
    expect(readOnce.read()).toBe(expected);
    expect(readOften.read()).toBe(expected);
  });

  it('reallocates only when the data no longer fits, doubling each time, so copying stays linear', () => {
    // Events whose data is exactly 256 bytes: four fill the first kilobyte to the byte.
    const padTo256 = (i: number): string => {
      const bare = JSON.stringify({ type: 'delta', delta: `${i}` }).length;
      return `${i}`.padEnd(256 - bare + `${i}`.length, '.');
    };
    const events = framed([Buffer.from(Array.from({ length: 64 }, (_, i) => deltaEvent(padTo256(i), false)).join(''))]);
    expect(events.every((event) => event.dataBytes().length === 256)).toBe(true);
    const allocations = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      const deferred = new DeferredText(deltaOf);
      const sizesAfter = (count: number): number[] => {
        for (const event of events.splice(0, count)) deferred.add(event);
        return allocations.mock.calls.map(([size]) => size);
      };
      expect(sizesAfter(4)).toEqual([1024]); // full to the last byte, not grown
      expect(sizesAfter(1)).toEqual([1024, 2048]);
      expect(sizesAfter(59)).toEqual([1024, 2048, 4096, 8192, 16384]); // 64 × 256 bytes
    } finally {
      allocations.mockRestore();
    }
  });

  it('keeps a copy of the data, not the chunk it came in', () => {
    const chunk = Buffer.from(deltaEvent('first answer', false));
    const deferred = new DeferredText(deltaOf);
    for (const event of framed([chunk])) deferred.add(event);
    chunk.fill(0x20); // the chunk is not kept: a slice of it would now read as blanks
    expect(deferred.read()).toBe('first answer');
  });

  it('reads nothing when nothing was added, and skips events without text', () => {
    const deferred = new DeferredText(deltaOf);
    expect(deferred.read()).toBe('');
    for (const event of framed([Buffer.from('data: {"type":"ping"}\n\ndata: not json\n\n')])) deferred.add(event);
    expect(deferred.read()).toBe('');
  });
});
