/**
 * usageView reads a JSON document for metering only: small ones parsed from Latin-1, large ones
 * scanned for their skeleton. The numbers, keys and ASCII a meter reads must come out exactly as
 * JSON.parse gives them, whatever text surrounds them; and the meters that read terminal events this
 * way must bill a huge terminal event exactly as a small one.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagesDialect, responsesDialect } from '../proxy/dialects';
import { SMALL_JSON_BYTES, usageView } from '../proxy/dialects/usageView';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream';

const usageArb = fc.record({
  input_tokens: fc.nat(),
  output_tokens: fc.nat(),
  input_tokens_details: fc.record({ cached_tokens: fc.nat() }),
});
// Any text: non-ASCII, astral, control characters, quotes and backslashes.
const textArb = fc.string({ unit: 'binary', maxLength: 200 });

function bytesOf(document: unknown): Buffer {
  return Buffer.from(JSON.stringify(document), 'utf8');
}

describe('usageView', () => {
  it('reads usage, types and numbers exactly as JSON.parse, whatever text a small document holds', () => {
    fc.assert(
      fc.property(usageArb, textArb, fc.integer(), (usage, text, sequence) => {
        const document = { type: 'response.completed', sequence_number: sequence, response: { output: [{ text }], usage, note: text } };
        const view = usageView(bytesOf(document)) as typeof document;
        expect(view.response.usage).toEqual(usage);
        expect(view.type).toBe('response.completed');
        expect(view.sequence_number).toBe(sequence);
        expect(view.response.output).toHaveLength(1);
      }),
    );
  });

  it('keeps a large document to its skeleton: the usage (top level or in response), never the text', () => {
    fc.assert(
      fc.property(usageArb, textArb, (usage, text) => {
        const big = text + 'é'.repeat(SMALL_JSON_BYTES);
        const top = usageView(bytesOf({ type: 'image_generation.completed', b64_json: big, size: '1024x1024', usage })) as Record<string, unknown>;
        expect(top).toEqual({ type: 'image_generation.completed', size: '1024x1024', usage });
        const nested = usageView(bytesOf({ type: 'response.completed', response: { output: [{ text: big }], usage } })) as { response: unknown };
        expect(nested.response).toEqual({ usage });
      }),
      { numRuns: 20 },
    );
  });

  it('parses a document at the size limit whole, and one byte past it as a skeleton', () => {
    const shell = bytesOf({ usage: { output_tokens: 1 }, text: '' }).length;
    const at = bytesOf({ usage: { output_tokens: 1 }, text: 'x'.repeat(SMALL_JSON_BYTES - shell) });
    const past = bytesOf({ usage: { output_tokens: 1 }, text: 'x'.repeat(SMALL_JSON_BYTES - shell + 1) });
    expect(at.length).toBe(SMALL_JSON_BYTES);
    expect((usageView(at) as { text: string }).text).toHaveLength(SMALL_JSON_BYTES - shell);
    expect(usageView(past)).toEqual({ usage: { output_tokens: 1 } });
  });

  it('answers undefined for what is not JSON, small or large', () => {
    expect(usageView(Buffer.from('{"usage":'))).toBeUndefined();
    expect(usageView(Buffer.from('[DONE]'))).toBeUndefined();
    expect(usageView(Buffer.from('"' + 'x'.repeat(SMALL_JSON_BYTES) + '"'))).toBeUndefined();
  });
});

describe('meters reading terminal events through usageView', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
  });
  afterAll(() => upstream.close());

  async function responsesStream(text: string): Promise<Buffer> {
    const res = await fetch(`${upstream.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fake-text': encodeURIComponent(text), 'x-fake-usage': '{"input_tokens":1200,"output_tokens":300}' },
      body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true }),
    });
    return Buffer.from(await res.arrayBuffer());
  }

  it('bills a Responses stream with non-ASCII text on its usage, and streams the text as sent', async () => {
    const text = 'Voilà — naïve façade, 数据, 🚀 ';
    const bytes = await responsesStream(text);
    const meter = responsesDialect.createStreamMeter({});
    meter.push(bytes);
    meter.end();
    expect(meter.usage()).toMatchObject({ inputTokens: 1200, outputTokens: 300 });
    expect(meter.sawTerminal()).toBe(true);
    expect(meter.streamedText()).toBe(text);
  });

  it('bills a Responses stream whose terminal event is past the size limit exactly as a short one', () => {
    const usage = { input_tokens: 1200, input_tokens_details: { cached_tokens: 200 }, output_tokens: 300, output_tokens_details: { reasoning_tokens: 120 }, total_tokens: 1500 };
    const event = (type: string, data: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const stream = (text: string): Buffer =>
      Buffer.from(
        event('response.created', { response: { id: 'resp_1', status: 'in_progress', output: [] } }) +
          event('response.output_text.delta', { delta: text }) +
          event('response.completed', { response: { id: 'resp_1', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text }] }], usage } }),
      );
    const billed = (text: string) => {
      const meter = responsesDialect.createStreamMeter({});
      meter.push(stream(text));
      meter.end();
      expect(meter.sawTerminal()).toBe(true);
      expect(meter.streamedText()).toBe(text);
      return meter.usage();
    };
    const short = billed('Grüße aus Köln.');
    expect(short).toMatchObject({ inputTokens: 1200, cachedInputTokens: 200, outputTokens: 300, reasoningTokens: 120 });
    expect(billed('Grüße aus Köln. '.repeat(SMALL_JSON_BYTES / 8))).toEqual(short);
  });

  it('bills an image stream whose completed event repeats a large image exactly as one with a small image', () => {
    const usage = { input_tokens: 50, input_tokens_details: { image_tokens: 20, text_tokens: 30 }, output_tokens: 4160, total_tokens: 4210 };
    const stream = (image: string): Buffer =>
      Buffer.from(
        `event: image_generation.partial_image\ndata: ${JSON.stringify({ type: 'image_generation.partial_image', b64_json: 'AAAA', partial_image_index: 0 })}\n\n` +
          `event: image_generation.completed\ndata: ${JSON.stringify({ type: 'image_generation.completed', b64_json: image, size: '1024x1024', usage })}\n\n`,
      );
    const billed = (image: string) => {
      const meter = imagesDialect.createStreamMeter({});
      meter.push(stream(image));
      meter.end();
      return meter.usage();
    };
    const small = billed('AAAA');
    expect(small).toMatchObject({ inputTokens: 50, outputTokens: 4160, images: 1 });
    expect(billed('A'.repeat(4 * SMALL_JSON_BYTES))).toEqual(small);
  });
});
