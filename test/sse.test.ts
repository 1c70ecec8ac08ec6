import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SseFramer, type SseEvent } from '../proxy/dialects/sse';
import { SseStreamMeter, type EventRewrite, type SseObserver } from '../proxy/dialects/sseMeter';
import { splitAt } from './helpers/splitAt';

interface Parsed {
  type: string;
  data: string;
}

function parseChunks(chunks: Buffer[], finish = true): Parsed[] {
  const events: Parsed[] = [];
  const framer = new SseFramer((event) => {
    if (event) events.push({ type: event.type, data: event.data });
  });
  for (const chunk of chunks) framer.push(chunk);
  if (finish) framer.end();
  return events;
}

// A model of event streams: the expected events, and their bytes in a chosen line-ending style.
const textArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '{', '"', 'é', '☕', '🚀', '日', '\u2028') });
const eventArb = fc.record({
  type: fc.option(fc.constantFrom('message_start', 'response.completed', 'ping', 'ü'), { nil: null }),
  lines: fc.array(textArb, { minLength: 1, maxLength: 3 }),
  comment: fc.boolean(),
});
const eolArb = fc.constantFrom('\n', '\r\n', '\r');

type ModelEvent = { type: string | null; lines: string[]; comment: boolean };

function render(events: ModelEvent[], eol: string): Buffer {
  let text = '';
  for (const { type, lines, comment } of events) {
    if (comment) text += `: keep-alive${eol}`;
    if (type !== null) text += `event: ${type}${eol}`;
    for (const line of lines) text += `data: ${line}${eol}`;
    text += eol;
  }
  return Buffer.from(text, 'utf8');
}

function expected(events: ModelEvent[]): Parsed[] {
  return events.map(({ type, lines }) => ({ type: type ?? '', data: lines.join('\n') }));
}

describe('SseFramer', () => {
  it('parses event names, multi-line data, comments and field quirks', () => {
    const stream = Buffer.from(
      ': comment\n' +
        'event: message_start\ndata: {"a":1}\n\n' +
        'data:no-space\ndata:  two spaces\n\n' +
        'id: 7\nretry: 100\ndata\n\n' + // a bare field name has an empty value
        'event: only-a-name\n\n' + // no data: not dispatched
        'data: last\n\n',
    );
    expect(parseChunks([stream])).toEqual([
      { type: 'message_start', data: '{"a":1}' },
      { type: '', data: 'no-space\n two spaces' },
      { type: '', data: '' },
      { type: '', data: 'last' },
    ]);
  });

  it('reads only the fields named exactly data and event, with or without a colon', () => {
    const stream = Buffer.from(
      'event: named\ndatadata: not data\nevent-id: not a name\na long line without any colon\ndata: kept\n\n' +
        'event\ndata:x\n:data: a comment\ndat: short\n\n',
    );
    expect(parseChunks([stream])).toEqual([
      { type: 'named', data: 'kept' },
      { type: '', data: 'x' }, // a bare `event` sets an empty name, that is the default
    ]);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('separates events with %s', (_name, eol) => {
    const stream = Buffer.from(`event: a${eol}data: 1${eol}${eol}data: 2${eol}data: 3${eol}${eol}`);
    expect(parseChunks([stream])).toEqual([
      { type: 'a', data: '1' },
      { type: '', data: '2\n3' },
    ]);
  });

  it('skips a UTF-8 byte order mark at the start of the stream only', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(parseChunks([Buffer.concat([bom, Buffer.from('data: x\n\n')])])).toEqual([{ type: '', data: 'x' }]);
  });

  it('dispatches an event whose closing blank line never came, at end()', () => {
    expect(parseChunks([Buffer.from('data: {"usage":1}\n')], false)).toEqual([]);
    expect(parseChunks([Buffer.from('data: {"usage":1}\n')])).toEqual([{ type: '', data: '{"usage":1}' }]);
    expect(parseChunks([Buffer.from('data: [DONE]')])).toEqual([{ type: '', data: '[DONE]' }]);
  });

  it('reports each block end as an offset into the chunk being pushed', () => {
    const ends: [string | null, number][] = [];
    const framer = new SseFramer((event, end) => ends.push([event?.data ?? null, end]));
    framer.push(Buffer.from('data: a\n\n: c\n\ndata: b\r'));
    framer.push(Buffer.from('\n\r\n'));
    expect(ends).toEqual([
      ['a', 9],
      [null, 14],
      ['b', 3],
    ]);
  });

  it('yields the same events however the bytes are split, even inside a UTF-8 character', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), eolArb, fc.array(fc.nat(), { maxLength: 12 }), (events, eol, cuts) => {
        const bytes = render(events, eol);
        expect(parseChunks(splitAt(bytes, cuts))).toEqual(expected(events));
      }),
      { numRuns: 500 },
    );
  });

  it('yields the same events when fed one byte at a time', () => {
    const bytes = Buffer.from('event: ☕\r\ndata: 日本語 🚀\r\n\r\ndata: é\r\rdata: x\n\n');
    const bytewise = Array.from(bytes, (byte) => Buffer.from([byte]));
    expect(parseChunks(bytewise)).toEqual(parseChunks([bytes]));
    expect(parseChunks(bytewise)).toEqual([
      { type: '☕', data: '日本語 🚀' },
      { type: '', data: 'é' },
      { type: '', data: 'x' },
    ]);
  });

  it('names every event as sent, however many names and however alike (names are decoded once and reused)', () => {
    // More distinct names than the framer remembers, same-length look-alikes, in any order and any chunking.
    const nameArb = fc.oneof(
      fc.constantFrom('ping', 'pong', 'p\u00efng', 'response.output_text.delta', 'response.output_text.done'),
      fc.integer({ min: 0, max: 99 }).map((n) => `type-${String(n).padStart(2, '0')}`),
    );
    fc.assert(
      fc.property(fc.array(nameArb, { maxLength: 120 }), fc.array(fc.nat(), { maxLength: 20 }), (names, cuts) => {
        const bytes = Buffer.from(names.map((name, i) => `event: ${name}\ndata: ${i}\n\n`).join(''));
        expect(parseChunks(splitAt(bytes, cuts))).toEqual(names.map((name, i) => ({ type: name, data: String(i) })));
      }),
      { numRuns: 300 },
    );
  });

  it('tests and compares data without decoding, across multi-line data too', () => {
    const seen: SseEvent[] = [];
    const framer = new SseFramer((event) => event && seen.push(event));
    framer.push(Buffer.from('data: [DONE]\n\ndata: {"usage":\ndata: null}\n\n'));
    expect(seen[0]!.dataEquals('[DONE]')).toBe(true);
    expect(seen[0]!.dataEquals('[DONE')).toBe(false);
    expect(seen[0]!.dataEquals('[DONE]]')).toBe(false);
    expect(seen[1]!.includes(Buffer.from('"usage":\nnull'))).toBe(true);
    expect(seen[1]!.includes(Buffer.from('"usage":null'))).toBe(false);
    expect(seen[1]!.json()).toEqual({ usage: null });
  });

  it('answers dataEquals and includes as the decoded data would, for any text', () => {
    fc.assert(
      fc.property(fc.array(textArb, { minLength: 1, maxLength: 3 }), textArb, (lines, probe) => {
        const seen: SseEvent[] = [];
        new SseFramer((event) => event && seen.push(event)).push(Buffer.from(lines.map((line) => `data: ${line}\n`).join('') + '\n'));
        const event = seen[0]!;
        for (const text of [probe, event.data, [...event.data].slice(0, -1).join(''), `${event.data}x`]) {
          expect(event.dataEquals(text)).toBe(event.data === text);
          expect(event.includes(Buffer.from(text))).toBe(event.data.includes(text));
        }
      }),
    );
  });
});

const DROP = Buffer.from('DROP');
const INSERT = Buffer.from('INSERT');

/** An observer that drops events whose data says DROP and inserts before events whose data says INSERT. */
class ScriptedObserver implements SseObserver {
  onEvent(event: SseEvent): EventRewrite {
    if (event.includes(DROP)) return 'drop';
    if (event.includes(INSERT)) return { insertBefore: Buffer.from('event: injected\ndata: {}\n\n') };
    return 'keep';
  }
  usage() {
    return null;
  }
  sawTerminal() {
    return false;
  }
  streamedText() {
    return '';
  }
}

function runMeter(meter: SseStreamMeter, chunks: Buffer[]): { out: Buffer; writes: Buffer[] } {
  const writes = chunks.map((chunk) => meter.push(chunk));
  writes.push(meter.end());
  return { out: Buffer.concat(writes), writes };
}

describe('SseStreamMeter', () => {
  it('hands every chunk back as the same Buffer when it does not rewrite', () => {
    const meter = new SseStreamMeter(new ScriptedObserver(), false);
    const chunks = splitAt(Buffer.from('data: DROP\n\ndata: INSERT\n\ndata: ☕\n\n'), [3, 7, 20, 31]);
    for (const chunk of chunks) expect(meter.push(chunk)).toBe(chunk);
    expect(meter.end().length).toBe(0);
  });

  it('passes bytes through unchanged at any split when rewriting finds nothing to rewrite', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), eolArb, fc.array(fc.nat(), { maxLength: 12 }), (events, eol, cuts) => {
        const bytes = render(events, eol);
        const { out } = runMeter(new SseStreamMeter(new ScriptedObserver(), true), splitAt(bytes, cuts));
        expect(out.equals(bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes complete events at once and holds back only the unfinished one', () => {
    const meter = new SseStreamMeter(new ScriptedObserver(), true);
    const first = Buffer.from('data: a\n\ndata: b\n\ndata: par');
    expect(meter.push(first).toString()).toBe('data: a\n\ndata: b\n\n');
    expect(meter.push(Buffer.from('tial')).toString()).toBe('');
    expect(meter.push(Buffer.from('\n\ndata: c\n\n')).toString()).toBe('data: partial\n\ndata: c\n\n');
    expect(meter.end().toString()).toBe('');
  });

  it('returns the very chunk when it holds only whole events and rewrites none', () => {
    const meter = new SseStreamMeter(new ScriptedObserver(), true);
    const chunk = Buffer.from('data: a\n\ndata: b\n\n');
    expect(meter.push(chunk)).toBe(chunk);
  });

  it('drops exactly the dropped events and inserts exactly before the marked ones, at any split', () => {
    const blocksArb = fc.array(
      fc.record({ kind: fc.constantFrom('keep', 'DROP', 'INSERT'), text: textArb, comment: fc.boolean() }),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(blocksArb, eolArb, fc.array(fc.nat(), { maxLength: 12 }), (blocks, eol, cuts) => {
        let input = '';
        let wanted = '';
        for (const { kind, text, comment } of blocks) {
          const block = `${comment ? `:c${eol}` : ''}event: e${eol}data: ${kind === 'keep' ? '' : kind} ${text}${eol}${eol}`;
          input += block;
          if (kind === 'INSERT') wanted += 'event: injected\ndata: {}\n\n';
          if (kind !== 'DROP') wanted += block;
        }
        const { out } = runMeter(new SseStreamMeter(new ScriptedObserver(), true), splitAt(Buffer.from(input), cuts));
        expect(out.toString('utf8')).toBe(wanted);
      }),
      { numRuns: 500 },
    );
  });

  it('drops the LF of a CRLF that straddles two chunks along with its event', () => {
    const meter = new SseStreamMeter(new ScriptedObserver(), true);
    const out = [meter.push(Buffer.from('data: DROP\r\n\r')), meter.push(Buffer.from('\ndata: x\r\n\r\n')), meter.end()];
    expect(Buffer.concat(out).toString()).toBe('data: x\r\n\r\n');
  });

  it('flushes an unterminated final event at end(), dropped or not', () => {
    const meter = new SseStreamMeter(new ScriptedObserver(), true);
    expect(meter.push(Buffer.from('data: a\n\ndata: tail')).toString()).toBe('data: a\n\n');
    expect(meter.end().toString()).toBe('data: tail');
    const dropping = new SseStreamMeter(new ScriptedObserver(), true);
    dropping.push(Buffer.from('data: a\n\ndata: DROP'));
    expect(dropping.end().toString()).toBe('');
  });
});
