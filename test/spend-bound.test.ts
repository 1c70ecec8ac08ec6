/** The pure rules behind the overspend bound: what an admission may spend, and what that caps. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spendableFor, type WindowUse } from '../proxy/ledger/allowance';
import { spendLimitEnding, UNREQUESTED_CAP_CEILING, withOutputCap } from '../proxy/dialects/spendLimit';
import { spendBound } from '../proxy/pricing/spendBound';
import { costOf } from '../proxy/pricing/cost';

const window = (limit: number, used: number): WindowUse => ({ name: '5h', limit, used, endsAt: null });
const weekly = (limit: number, used: number): WindowUse => ({ name: 'weekly', limit, used, endsAt: null });

describe('spendableFor', () => {
  it('on the plan: the smallest window remainder after plan holds', () => {
    expect(spendableFor('plan', [window(1_000, 200), weekly(5_000, 4_500)], 100, { balance: 0, held: 0, autoUse: true })).toBe(400);
  });

  it('on the plan with auto-use and a positive balance: plus the unheld credits', () => {
    expect(spendableFor('plan', [window(1_000, 200)], 0, { balance: 700, held: 300, autoUse: true })).toBe(1_200);
    expect(spendableFor('plan', [window(1_000, 200)], 0, { balance: 700, held: 300, autoUse: false })).toBe(800);
    expect(spendableFor('plan', [window(1_000, 200)], 0, { balance: 0, held: 0, autoUse: true })).toBe(800);
  });

  it('on credits: the balance less credit holds, never negative', () => {
    expect(spendableFor('credits', [window(1_000, 1_000)], 0, { balance: 700, held: 300, autoUse: true })).toBe(400);
    expect(spendableFor('credits', [], 0, { balance: 100, held: 300, autoUse: true })).toBe(0);
  });

  it('never counts an overrun window as negative allowance', () => {
    expect(spendableFor('plan', [window(1_000, 1_500)], 0, { balance: 50, held: 0, autoUse: true })).toBe(50);
  });
});

const GPT = { feature: 'assistant', input: 50, cached_input: 12.5, output: 200 };
const CLAUDE = { feature: 'assistant', input: 75, cached_input: 7.5, cache_write: 93.75, output: 375 };

describe('spendBound', () => {
  it('caps the output to what is left after a conservative input', () => {
    const bound = spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: null, spendable: 1_000_000, margin: 0 });
    // 125 input tokens (a quarter more) at 50 = 6,250; the rest pays 4,968 output tokens at 200.
    expect(bound).toEqual({ ok: true, outputCap: 4_968, costCap: 1_000_000, inputCost: 6_250, outputPrice: 200 });
  });

  it('reads the model’s maximum output as the request’s limit when it sent none', () => {
    // 6,250 for the input leaves 993,750: 4,968 output tokens, below the model's 128,000.
    expect(spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: null, modelMaxOutputTokens: 128_000, spendable: 1_000_000, margin: 0 })).toMatchObject({ outputCap: 4_968 });
    // Enough for the model's longest answer: no cap to forward.
    const rich = 6_250 + 128_000 * 200;
    expect(spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: null, modelMaxOutputTokens: 128_000, spendable: rich, margin: 0 })).toMatchObject({ outputCap: null });
    expect(spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: null, modelMaxOutputTokens: 128_000, spendable: rich - 200, margin: 0 })).toMatchObject({ outputCap: 127_999 });
    // The request's own limit comes first.
    expect(spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: 4_968, modelMaxOutputTokens: 128_000, spendable: 1_000_000, margin: 0 })).toMatchObject({ outputCap: null });
  });

  it('prices the input at the cache-write price when that is dearer', () => {
    const bound = spendBound({ rate: CLAUDE, vendor: 'anthropic', inputTokens: 4, requestedOutputTokens: null, spendable: 10_000, margin: 0 });
    expect(bound.ok && bound.inputCost).toBe(costOf({ ...CLAUDE, input: 93.75 }, { vendor: 'anthropic', inputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 }));
  });

  it('prices the input at the 1-hour cache-write price when that is the dearest', () => {
    const hour = { ...CLAUDE, cache_write_1h: 150 };
    const bound = spendBound({ rate: hour, vendor: 'anthropic', inputTokens: 4, requestedOutputTokens: null, spendable: 10_000, margin: 0 });
    expect(bound.ok && bound.inputCost).toBe(750); // 5 tokens at 150
  });

  it('bounds a prompt past the long-context threshold at the long-context prices', () => {
    const long = { ...GPT, long_context: { above_input_tokens: 1_000, input: 100, output: 300 } };
    // 800 estimated tokens count as 1,000: at the threshold, not past it.
    expect(spendBound({ rate: long, vendor: 'openai', inputTokens: 800, requestedOutputTokens: null, spendable: 1_000_000, margin: 0 })).toMatchObject({
      inputCost: 50_000,
      outputPrice: 200,
    });
    // 801 count as 1,002: every input token at 100, and output at 300.
    const past = spendBound({ rate: long, vendor: 'openai', inputTokens: 801, requestedOutputTokens: null, spendable: 1_000_000, margin: 0 });
    expect(past).toMatchObject({ ok: true, inputCost: 100_200, outputPrice: 300, outputCap: Math.floor((1_000_000 - 100_200) / 300) });
  });

  it('does not cap a request whose own limit the account can pay', () => {
    const bound = spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: 4_968, spendable: 1_000_000, margin: 0 });
    expect(bound.ok && bound.outputCap).toBeNull();
    const tight = spendBound({ rate: GPT, vendor: 'openai', inputTokens: 100, requestedOutputTokens: 4_969, spendable: 1_000_000, margin: 0 });
    expect(tight.ok && tight.outputCap).toBe(4_968);
  });

  it('refuses when the input alone costs more than what is left plus the margin', () => {
    expect(spendBound({ rate: GPT, vendor: 'openai', inputTokens: 1_000, requestedOutputTokens: null, spendable: 50_000, margin: 12_499 })).toEqual({
      ok: false,
      inputCost: 62_500,
    });
    const atMargin = spendBound({ rate: GPT, vendor: 'openai', inputTokens: 1_000, requestedOutputTokens: null, spendable: 50_000, margin: 12_500 });
    expect(atMargin).toMatchObject({ ok: true, outputCap: 1, costCap: 62_500 });
  });

  it('counts what the request\'s units cost (images, characters) with its input', () => {
    const tts = { feature: 'audio', input: 0, output: 0, per_character: 0.375 };
    const units = 375_000; // 1,000,000 characters' worth of micro-credits
    expect(spendBound({ rate: tts, vendor: 'openai', inputTokens: 0, unitCost: units, requestedOutputTokens: null, spendable: 300_000, margin: 50_000 })).toEqual({
      ok: false,
      inputCost: units,
    });
    expect(spendBound({ rate: tts, vendor: 'openai', inputTokens: 0, unitCost: units, requestedOutputTokens: null, spendable: 325_000, margin: 50_000 })).toMatchObject({
      ok: true,
      inputCost: units,
    });
  });

  it('leaves free output uncapped', () => {
    const embeddings = { feature: 'embeddings', input: 0.5, output: 0 };
    expect(spendBound({ rate: embeddings, vendor: 'openai', inputTokens: 10, requestedOutputTokens: null, spendable: 100, margin: 0 })).toMatchObject({
      ok: true,
      outputCap: null,
    });
  });

  it('leaves free output uncapped even when only the margin pays for the input', () => {
    const embeddings = { feature: 'embeddings', input: 0.5, output: 0 };
    // 13 conservative tokens: a worst case of 13 exceeds the 10 left, so the input is priced (6.5 → 7).
    expect(spendBound({ rate: embeddings, vendor: 'openai', inputTokens: 10, requestedOutputTokens: null, spendable: 10, margin: 100 })).toEqual({
      ok: true,
      outputCap: null,
      costCap: 110,
      inputCost: 7,
      outputPrice: 0,
    });
  });

  it('clears a request without pricing it when its worst case fits, up to exactly what is left', () => {
    const rate = { feature: 'assistant', input: 1, output: 1 };
    // 4 estimated input tokens count as 5; the worst case is twice that input plus the 10 tokens asked for.
    const cleared = { ok: true, outputCap: null, costCap: 20 + 7, inputCost: 0, outputPrice: 1 };
    expect(spendBound({ rate, vendor: 'openai', inputTokens: 4, requestedOutputTokens: 10, spendable: 20, margin: 7 })).toEqual(cleared);
    // One micro-credit less and the request is priced exactly: 5 of input, and the 10 tokens fit in the 14 left.
    expect(spendBound({ rate, vendor: 'openai', inputTokens: 4, requestedOutputTokens: 10, spendable: 19, margin: 7 })).toEqual({
      ok: true,
      outputCap: null,
      costCap: 26,
      inputCost: 5,
      outputPrice: 1,
    });
  });

  it('counts no more than the longest possible answer in the worst case, whatever the request asks for', () => {
    const rate = { feature: 'assistant', input: 1, output: 1 };
    // 64,000,000 tokens asked for, but no answer passes 1,000,000: 1,000,010 is enough to clear it unpriced.
    expect(spendBound({ rate, vendor: 'openai', inputTokens: 4, requestedOutputTokens: 64_000_000, spendable: 1_000_010, margin: 0 })).toMatchObject({
      ok: true,
      outputCap: null,
      inputCost: 0,
    });
  });

  it('never lets input plus capped output cost more than what is left (property)', () => {
    fc.assert(
      fc.property(fc.nat(200_000), fc.integer({ min: 1, max: 100_000_000 }), fc.integer({ min: 1, max: 3_000 }), (inputTokens, spendable, outputPrice) => {
        const rate = { feature: 'assistant', input: 10, output: outputPrice };
        const bound = spendBound({ rate, vendor: 'openai', inputTokens, requestedOutputTokens: null, spendable, margin: 0 });
        if (!bound.ok || bound.outputCap === null) return;
        const worst = costOf(rate, { vendor: 'openai', inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: bound.outputCap, reasoningTokens: 0 });
        // One token is always allowed, so a request admitted with almost nothing left may cost that token.
        expect(worst).toBeLessThanOrEqual(Math.max(spendable, bound.inputCost + outputPrice));
      }),
    );
  });
});

describe('withOutputCap', () => {
  it('lowers each dialect’s own limit field, on a copy', () => {
    const body = { model: 'm', max_tokens: 64_000 };
    expect(withOutputCap('messages', body, 2_000)).toEqual({ model: 'm', max_tokens: 2_000 });
    expect(body.max_tokens).toBe(64_000);
    expect(withOutputCap('responses', { max_output_tokens: 9_000 }, 100)).toEqual({ max_output_tokens: 100 });
    expect(withOutputCap('chat', { max_tokens: 9_000 }, 100)).toEqual({ max_tokens: 100 });
    expect(withOutputCap('chat', { max_completion_tokens: 9_000, max_tokens: 9_000 }, 100)).toEqual({ max_completion_tokens: 100, max_tokens: 9_000 });
    expect(withOutputCap('completions', { max_tokens: 9_000 }, 100)).toEqual({ max_tokens: 100 });
  });

  it('injects a limit when absent only below the ceiling every model accepts', () => {
    expect(withOutputCap('chat', {}, 500)).toEqual({ max_completion_tokens: 500 });
    expect(withOutputCap('responses', {}, UNREQUESTED_CAP_CEILING)).toEqual({ max_output_tokens: UNREQUESTED_CAP_CEILING });
    expect(withOutputCap('responses', {}, UNREQUESTED_CAP_CEILING + 1)).toBeNull();
  });

  it('injects any cap below the model’s maximum output when the rate card knows it', () => {
    expect(withOutputCap('responses', {}, 100_000, 128_000)).toEqual({ max_output_tokens: 100_000 });
    expect(withOutputCap('chat', {}, 32_767, 32_768)).toEqual({ max_completion_tokens: 32_767 });
    expect(withOutputCap('messages', { model: 'm' }, 40_000, 64_000)).toEqual({ model: 'm', max_tokens: 40_000 });
    expect(withOutputCap('responses', {}, 128_001, 128_000)).toBeNull();
    // A model whose maximum is below the ceiling still takes a cap up to the ceiling (the bound never asks more of it).
    expect(withOutputCap('chat', {}, 3_000, 4_096)).toEqual({ max_completion_tokens: 3_000 });
  });

  it('lowers a limit of the client’s own whatever the sizes, model maximum or not', () => {
    expect(withOutputCap('responses', { max_output_tokens: 200_000 }, 50_000)).toEqual({ max_output_tokens: 50_000 });
    expect(withOutputCap('messages', { max_tokens: 64_000 }, 20_000, 32_000)).toEqual({ max_tokens: 20_000 });
  });

  it('changes nothing when the client asked for less, or the dialect has no output limit', () => {
    expect(withOutputCap('messages', { max_tokens: 100 }, 100)).toBeNull();
    expect(withOutputCap('passthrough', { max_tokens: 9_000 }, 100)).toBeNull();
  });
});

/** The events of an SSE text: [event name or null, parsed data or the raw `[DONE]`]. */
function events(text: string): [string | null, unknown][] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? null;
      const data = /^data: (.*)$/m.exec(block)![1]!;
      return [event, data === '[DONE]' ? data : JSON.parse(data)];
    });
}

describe('spendLimitEnding', () => {
  it('writes each API’s own ending, naming the request and the model, dated now in seconds', () => {
    const before = Math.floor(Date.now() / 1000);
    const [responsesEvent, responses] = events(spendLimitEnding('responses', 'r1', 'gpt-5').toString())[0]!;
    const chatEvents = events(spendLimitEnding('chat', 'r2', 'gpt-4.1').toString());
    const legacyEvents = events(spendLimitEnding('completions', 'r3', 'gpt-3.5-turbo-instruct').toString());
    const [chat, chatDone, legacy, legacyDone] = [chatEvents[0]![1], chatEvents[1]![1], legacyEvents[0]![1], legacyEvents[1]![1]];
    const after = Math.floor(Date.now() / 1000);
    expect(responsesEvent).toBe('response.incomplete');
    expect(responses).toEqual({
      type: 'response.incomplete',
      response: {
        id: 'resp_creditgate_r1', object: 'response', created_at: expect.any(Number), status: 'incomplete', model: 'gpt-5',
        incomplete_details: { reason: 'max_output_tokens' }, output: [], usage: null,
      },
    });
    expect(chat).toEqual({
      id: 'chatcmpl-creditgate-r2', object: 'chat.completion.chunk', created: expect.any(Number), model: 'gpt-4.1',
      choices: [{ index: 0, delta: {}, finish_reason: 'length' }],
    });
    expect(legacy).toEqual({
      id: 'cmpl-creditgate-r3', object: 'text_completion', created: expect.any(Number), model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text: '', finish_reason: 'length' }],
    });
    expect([chatDone, legacyDone]).toEqual(['[DONE]', '[DONE]']);
    for (const created of [(responses as { response: { created_at: number } }).response.created_at, (chat as { created: number }).created, (legacy as { created: number }).created]) {
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(after);
    }
    expect(events(spendLimitEnding('messages', 'r4', 'claude').toString())).toEqual([
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 0 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
  });

  it('ends each stream the way its API ends an answer at its output limit', () => {
    expect(spendLimitEnding('responses', 'r1', 'gpt-5').toString()).toMatch(/^event: response\.incomplete\ndata: .*"reason":"max_output_tokens"/);
    expect(spendLimitEnding('chat', 'r1', 'gpt-5').toString()).toMatch(/"finish_reason":"length".*\n\ndata: \[DONE\]\n\n$/s);
    expect(spendLimitEnding('messages', 'r1', 'claude').toString()).toMatch(/"stop_reason":"max_tokens".*event: message_stop/s);
    expect(spendLimitEnding('passthrough', 'r1', 'x')).toHaveLength(0);
  });
});
