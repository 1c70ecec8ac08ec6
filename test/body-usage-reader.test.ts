/**
 * BodyUsageReader reads a non-streaming answer's body for its usage: small bodies are parsed whole
 * (as Latin-1, see bodyUsageReader.ts), large ones scanned; compressed ones decoded on the side. Each
 * way must find what JSON.parse of the UTF-8 text finds, whatever the text around the usage holds.
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chatCompletionsDialect } from '../proxy/dialects/chatCompletions';
import { BodyUsageReader } from '../proxy/gateway/bodyUsageReader';
import { SMALL_JSON_BYTES as SMALL_BODY_BYTES } from '../proxy/dialects/usageView';
import type { Encoding } from '../proxy/gateway/contentEncoding';

function read(bytes: Buffer, encoding: Encoding | null = null, chunkSize = bytes.length): Promise<unknown> {
  const reader = new BodyUsageReader(encoding);
  for (let at = 0; at < bytes.length; at += Math.max(1, chunkSize)) reader.push(bytes.subarray(at, at + Math.max(1, chunkSize)));
  return new Promise((resolve) => reader.end(resolve));
}

function answer(text: string, usage: Record<string, number>): Record<string, unknown> {
  return { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-5', choices: [{ index: 0, message: { role: 'assistant', content: text } }], usage };
}

const usageOf = (body: unknown) => chatCompletionsDialect.usageFromBody(body);

describe('BodyUsageReader', () => {
  it('reads the usage of an answer whose text is not ASCII exactly as JSON.parse of the UTF-8 text does', async () => {
    const body = answer('Grüße — 你好 🚀 "quoted" \\ back\u2028slash', { prompt_tokens: 12, completion_tokens: 345, total_tokens: 357 });
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    const parsed = await read(bytes, null, 7); // cut inside multi-byte characters
    expect(usageOf(parsed)).toEqual(usageOf(body));
    expect(usageOf(parsed)?.outputTokens).toBe(345);
  });

  it('finds the same usage for any text, keys and chunking (small, large and gzip bodies)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 4 }),
        fc.nat(1_000_000),
        fc.nat(1_000_000),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom('small', 'large', 'gzip'),
        async (text, extra, input, output, chunkSize, shape) => {
          const body = { ...answer(shape === 'large' ? text + 'x'.repeat(SMALL_BODY_BYTES) : text, { prompt_tokens: input, completion_tokens: output }), extra };
          let bytes = Buffer.from(JSON.stringify(body), 'utf8');
          if (shape === 'gzip') bytes = gzipSync(bytes);
          const parsed = await read(bytes, shape === 'gzip' ? 'gzip' : null, shape === 'large' ? 65_536 : chunkSize);
          expect(usageOf(parsed)).toEqual(usageOf(body));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gives null for a body that is not JSON, so the request is billed as an estimate', async () => {
    expect(await read(Buffer.from('\u00ff not json', 'utf8'))).toBeNull();
    expect(await read(Buffer.from('{"usage":{"prompt_tokens":1', 'utf8'))).toBeNull();
  });
});
