import { describe, expect, it } from 'vitest';
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
