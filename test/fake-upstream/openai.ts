/** OpenAI's real shapes: Responses events, Chat Completions chunks, bodies and errors. */
import type { FakeTurn } from './turn';
import { sseEvent } from './turn';

function responsesUsage(turn: FakeTurn): unknown {
  const { usage } = turn;
  if (usage === null) return null;
  return {
    input_tokens: usage.input_tokens,
    input_tokens_details: { cached_tokens: usage.cached_tokens, cache_write_tokens: usage.cache_write_tokens },
    output_tokens: usage.output_tokens,
    output_tokens_details: { reasoning_tokens: usage.reasoning_tokens },
    total_tokens: usage.input_tokens + usage.output_tokens,
  };
}

function messageItem(turn: FakeTurn, done: boolean): unknown {
  return {
    id: `msg_${turn.id}`,
    type: 'message',
    status: done ? 'completed' : 'in_progress',
    content: done ? [{ type: 'output_text', annotations: [], logprobs: [], text: turn.text }] : [],
    role: 'assistant',
  };
}

/** The Response object; `final` adds the output, the terminal status and usage. */
export function responseObject(turn: FakeTurn, final: boolean): Record<string, unknown> {
  const status = final ? turn.terminal : 'in_progress';
  return {
    id: `resp_${turn.id}`,
    object: 'response',
    created_at: turn.created,
    status,
    background: false,
    error: final && turn.terminal === 'failed' ? { code: 'server_error', message: 'The fake upstream failed this response.' } : null,
    incomplete_details: final && turn.terminal === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: null,
    max_output_tokens: null,
    model: turn.model,
    output: final ? [messageItem(turn, true)] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: final ? responsesUsage(turn) : null,
    metadata: {},
  };
}

export function responsesEvents(turn: FakeTurn): string[] {
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): string =>
    sseEvent(type, { type, sequence_number: sequence++, ...fields });
  const itemId = `msg_${turn.id}`;
  const part = (text: string): unknown => ({ type: 'output_text', annotations: [], logprobs: [], text });
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  return [
    event('response.created', { response: responseObject(turn, false) }),
    event('response.in_progress', { response: responseObject(turn, false) }),
    event('response.output_item.added', { output_index: 0, item: messageItem(turn, false) }),
    event('response.content_part.added', { ...at, part: part('') }),
    ...turn.pieces.map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] })),
    event('response.output_text.done', { ...at, text: turn.text, logprobs: [] }),
    event('response.content_part.done', { ...at, part: part(turn.text) }),
    event('response.output_item.done', { output_index: 0, item: messageItem(turn, true) }),
    event(`response.${turn.terminal}`, { response: responseObject(turn, true) }),
  ];
}

function chatUsage(turn: FakeTurn): unknown {
  const { usage } = turn;
  if (usage === null) return null;
  return {
    prompt_tokens: usage.input_tokens,
    completion_tokens: usage.output_tokens,
    total_tokens: usage.input_tokens + usage.output_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens, cache_write_tokens: usage.cache_write_tokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoning_tokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/**
 * Chat chunks as OpenAI sends them: with include_usage every chunk has `"usage":null` and one last
 * chunk with `choices: []` carries the usage; without it, no usage field at all. Then `[DONE]`.
 */
export function chatChunks(turn: FakeTurn, includeUsage: boolean): string[] {
  const head = { id: `chatcmpl-${turn.id}`, object: 'chat.completion.chunk', created: turn.created, model: turn.model, service_tier: 'default', system_fingerprint: 'fp_fake' };
  const chunk = (delta: unknown, finishReason: string | null): string =>
    sseEvent(null, {
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const chunks = [
    chunk({ role: 'assistant', content: '', refusal: null }, null),
    ...turn.pieces.map((content) => chunk({ content }, null)),
    chunk({}, turn.terminal === 'incomplete' ? 'length' : 'stop'),
  ];
  if (includeUsage && turn.usage !== null) chunks.push(sseEvent(null, { ...head, choices: [], usage: chatUsage(turn) }));
  chunks.push('data: [DONE]\n\n');
  return chunks;
}

export function chatBody(turn: FakeTurn): unknown {
  return {
    id: `chatcmpl-${turn.id}`,
    object: 'chat.completion',
    created: turn.created,
    model: turn.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: turn.text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: turn.terminal === 'incomplete' ? 'length' : 'stop',
      },
    ],
    ...(turn.usage === null ? {} : { usage: chatUsage(turn) }),
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

/** Deterministic 8-dimensional vectors; usage as the embeddings API reports it (no completion tokens). */
export function embeddingsBody(turn: FakeTurn, inputs: number): unknown {
  return {
    object: 'list',
    data: Array.from({ length: inputs }, (_, index) => ({
      object: 'embedding',
      index,
      embedding: Array.from({ length: 8 }, (_, d) => Number(Math.sin(index + d).toFixed(6))),
    })),
    model: turn.model,
    ...(turn.usage === null ? {} : { usage: { prompt_tokens: turn.usage.input_tokens, total_tokens: turn.usage.input_tokens } }),
  };
}

export function modelsBody(created: number): unknown {
  return {
    object: 'list',
    data: ['gpt-5-codex', 'gpt-5', 'gpt-4o-mini', 'text-embedding-3-small'].map((id) => ({ id, object: 'model', created, owned_by: 'openai' })),
  };
}

const OPENAI_ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'The fake upstream refused this request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden.' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests.' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request.' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded.' },
};

export function openAiErrorBody(status: number): unknown {
  const error = OPENAI_ERRORS[status] ?? { type: 'server_error', code: null, message: `Fake upstream error ${status}.` };
  return { error: { message: error.message, type: error.type, param: null, code: error.code } };
}
