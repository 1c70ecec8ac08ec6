/**
 * Streamed answers put back together as the non-streaming bodies their APIs send
 * (proxy/dialects/streamToBody.ts; work in progress: not used by the gateway yet).
 */
import { describe, expect, it } from 'vitest';
import { streamAssembler } from '../proxy/dialects/streamToBody';

function assemble(dialect: string, events: [string, unknown][]): unknown {
  const assembler = streamAssembler(dialect)!;
  for (const [name, data] of events) assembler.push(name, data);
  return assembler.body();
}

describe('a Chat Completions stream as one chat.completion', () => {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ['', { id: 'c1', object: 'chat.completion.chunk', created: 7, model: 'gpt-4.1', system_fingerprint: 'fp', choices, ...extra }] as [string, unknown];

  it('joins the text, the tool calls by index, the finish reason and the usage', () => {
    const body = assemble('chat', [
      chunk([{ index: 0, delta: { role: 'assistant', content: '' } }]),
      chunk([{ index: 0, delta: { content: 'Hel' } }]),
      chunk([{ index: 0, delta: { content: 'lo' } }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a"' } }] } }]),
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] } }]),
      chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
      chunk([], { usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } }),
    ]);
    expect(body).toEqual({
      id: 'c1',
      object: 'chat.completion',
      created: 7,
      model: 'gpt-4.1',
      system_fingerprint: 'fp',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello', refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get', arguments: '{"a":1}' } }] },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 },
    });
  });

  it('keeps several choices apart, in index order, and a stream cut at the bound ends with its length reason', () => {
    const body = assemble('chat', [
      chunk([{ index: 1, delta: { content: 'b' } }, { index: 0, delta: { content: 'a' } }]),
      chunk([{ index: 0, delta: {}, finish_reason: 'length' }]),
    ]) as { choices: { index: number; message: { content: string }; finish_reason: unknown }[] };
    expect(body.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a', 'length'],
      [1, 'b', null],
    ]);
  });

  it('has no body for a stream that never sent a chunk', () => {
    expect(assemble('chat', [])).toBeNull();
  });
});

describe('a Messages stream as one message', () => {
  it('joins text, thinking with its signature, and a tool call’s JSON input; the stop and usage from message_delta', () => {
    const body = assemble('messages', [
      ['message_start', { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi ' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'there' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 1 }],
      ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 't1', name: 'get', input: {} } }],
      ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city":' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '"Oslo"}' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 2 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 42 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
    expect(body).toEqual({
      id: 'm1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 'sig' },
        { type: 'text', text: 'Hi there' },
        { type: 'tool_use', id: 't1', name: 'get', input: { city: 'Oslo' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 42 },
    });
  });

  it('gives a tool call cut off mid-argument an empty input, and the gateway’s max_tokens ending its stop reason', () => {
    const body = assemble('messages', [
      ['message_start', { type: 'message_start', message: { id: 'm2', content: [], usage: { input_tokens: 3, output_tokens: 0 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'f', input: {} } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a": [1, 2' } }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 0 } }],
    ]) as { content: unknown[]; stop_reason: string };
    expect(body.content).toEqual([{ type: 'tool_use', id: 't', name: 'f', input: {} }]);
    expect(body.stop_reason).toBe('max_tokens');
  });
});

describe('a Responses stream as one response', () => {
  const item = (id: string, text: string) => ({ id, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] });

  it('is the terminal event’s response when it carries the output', () => {
    const completed = { id: 'resp_1', object: 'response', status: 'completed', output: [item('msg_1', 'Hello')], usage: { input_tokens: 4, output_tokens: 2 } };
    expect(
      assemble('responses', [
        ['response.created', { type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } }],
        ['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { id: 'msg_1', type: 'message', role: 'assistant', content: [] } }],
        ['response.output_text.delta', { type: 'response.output_text.delta', output_index: 0, content_index: 0, delta: 'Hello' }],
        ['response.completed', { type: 'response.completed', response: completed }],
      ]),
    ).toEqual(completed);
  });

  it('rebuilds the output from finished items and the text still being written when the ending has none (the spending bound)', () => {
    const body = assemble('responses', [
      ['response.created', { type: 'response.created', response: { id: 'resp_2', status: 'in_progress', output: [] } }],
      ['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }],
      ['response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }],
      ['response.output_item.added', { type: 'response.output_item.added', output_index: 1, item: { id: 'msg_2', type: 'message', role: 'assistant', status: 'in_progress', content: [] } }],
      ['response.output_text.delta', { type: 'response.output_text.delta', output_index: 1, content_index: 0, delta: 'Half ' }],
      ['response.output_text.delta', { type: 'response.output_text.delta', output_index: 1, content_index: 0, delta: 'done' }],
      [
        'response.incomplete',
        { type: 'response.incomplete', response: { id: 'resp_creditgate_r1', object: 'response', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [], usage: null } },
      ],
    ]);
    expect(body).toEqual({
      id: 'resp_creditgate_r1',
      object: 'response',
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      usage: null,
      output: [
        { id: 'rs_1', type: 'reasoning', summary: [] },
        { id: 'msg_2', type: 'message', role: 'assistant', status: 'in_progress', content: [{ type: 'output_text', text: 'Half done', annotations: [] }] },
      ],
    });
  });

  it('has no assembler for dialects without a streamed form to rebuild from', () => {
    expect(streamAssembler('embeddings')).toBeNull();
  });
});
