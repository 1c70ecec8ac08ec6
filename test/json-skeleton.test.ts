/**
 * The skeleton scanner against a reference built from JSON.parse: for any JSON text and any way of
 * cutting it into chunks, the scanner keeps exactly what the reference says a dialect may read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonSkeletonScanner, SCALAR_LIMIT, USAGE_LIMIT } from '../proxy/dialects/jsonSkeleton';

const USAGE_CONTAINERS = new Set(['response', 'message']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The rules of jsonSkeleton.ts restated over a parsed value. */
function referenceSkeleton(text: string): Record<string, unknown> | null {
  const value: unknown = JSON.parse(text);
  if (!isObject(value)) return null;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // Keys are compared as their raw JSON bytes: an escaped or long key is never a dialect's.
    const raw = JSON.stringify(key).slice(1, -1);
    if (key === '__proto__' || raw.includes('\\') || Buffer.byteLength(raw) > 64) continue;
    const item = value[key];
    if (key === 'usage') {
      if (Buffer.byteLength(JSON.stringify(item)) <= USAGE_LIMIT) out[key] = item;
    } else if (Array.isArray(item)) {
      out[key] = item.map(() => ({}));
    } else if (isObject(item)) {
      const nested: Record<string, unknown> = {};
      if (USAGE_CONTAINERS.has(key) && 'usage' in item && Buffer.byteLength(JSON.stringify(item.usage)) <= USAGE_LIMIT) nested.usage = item.usage;
      out[key] = nested;
    } else if (Buffer.byteLength(JSON.stringify(item)) <= SCALAR_LIMIT) {
      out[key] = item;
    }
  }
  return out;
}

function scan(text: string, cuts: number[]): Record<string, unknown> | null {
  const bytes = Buffer.from(text, 'utf8');
  const scanner = new JsonSkeletonScanner();
  let from = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  scanner.push(bytes.subarray(from));
  return scanner.result();
}

// Objects whose keys include the ones the scanner treats specially, and values of every JSON kind.
const key = fc.oneof(fc.constantFrom('usage', 'response', 'message', 'data', 'id', 'a"b', 'x\\y', '__proto__'), fc.string());
const value = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1.5e-10, 123456789),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary' }),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(key, tie('json'), { maxKeys: 4 }),
  ),
})).json;
const body = fc.dictionary(key, value, { maxKeys: 6 });

describe('JsonSkeletonScanner', () => {
  it('keeps what the reference keeps, however the bytes are cut', () => {
    fc.assert(
      fc.property(body, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (object, pretty, cuts) => {
        const text = JSON.stringify(object, null, pretty ? 2 : undefined);
        expect(scan(text, cuts)).toEqual(referenceSkeleton(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads usage from a vendor body and counts images without keeping them', () => {
    const image = 'A'.repeat(3 * 1024 * 1024);
    const text = JSON.stringify({
      created: 1,
      data: [{ b64_json: image }, { b64_json: image }],
      usage: { input_tokens: 10, output_tokens: 4160, input_tokens_details: { text_tokens: 10, image_tokens: 0 } },
    });
    const skeleton = scan(text, [5, 1000, 2 * 1024 * 1024, text.length - 20]);
    expect(skeleton).toEqual({
      created: 1,
      data: [{}, {}],
      usage: { input_tokens: 10, output_tokens: 4160, input_tokens_details: { text_tokens: 10, image_tokens: 0 } },
    });
  });

  it('finds usage nested in a Responses body and an Anthropic message', () => {
    expect(scan(JSON.stringify({ response: { output: [{ text: 'x' }], usage: { input_tokens: 3 } } }), [7])).toEqual({
      response: { usage: { input_tokens: 3 } },
    });
    expect(scan(JSON.stringify({ type: 'message', message: { usage: { output_tokens: 9 } } }), [])).toEqual({
      type: 'message',
      message: { usage: { output_tokens: 9 } },
    });
  });

  it('drops an oversized usage and long strings, and answers null for a non-object', () => {
    const huge = { usage: { pad: 'x'.repeat(USAGE_LIMIT) }, model: 'y'.repeat(SCALAR_LIMIT), ok: 'short' };
    expect(scan(JSON.stringify(huge), [100])).toEqual({ ok: 'short' });
    expect(scan('[1,2,3]', [])).toBeNull();
    expect(scan('"text"', [])).toBeNull();
  });

  it('counts a long array without building its items', () => {
    const text = JSON.stringify({ data: Array.from({ length: 10_000 }, (_, i) => i) });
    const skeleton = scan(text, [17]);
    expect((skeleton!.data as unknown[]).length).toBe(10_000);
  });
});
