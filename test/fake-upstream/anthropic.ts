/** Anthropic's real Messages shapes: stream events, the message body, errors. */
import type { FakeUsage } from './behavior';
import type { FakeTurn } from './turn';
import { sseEvent } from './turn';

/** The cache writes by lifetime, as Anthropic reports them beside their total. */
function cacheCreation(usage: FakeUsage): unknown {
  const hour = Math.min(usage.cache_creation_1h_input_tokens, usage.cache_creation_input_tokens);
  return { ephemeral_5m_input_tokens: usage.cache_creation_input_tokens - hour, ephemeral_1h_input_tokens: hour };
}

function startUsage(turn: FakeTurn): unknown {
  const { usage } = turn;
  if (usage === null) return undefined;
  return {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_creation: cacheCreation(usage),
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: 1, // Anthropic reports a provisional 1 here; message_delta carries the real total
    service_tier: 'standard',
  };
}

function message(turn: FakeTurn, final: boolean): Record<string, unknown> {
  const usage = turn.usage;
  return {
    id: `msg_${turn.id}`,
    type: 'message',
    role: 'assistant',
    model: turn.model,
    content: final ? [{ type: 'text', text: turn.text }] : [],
    stop_reason: final ? stopReason(turn) : null,
    stop_sequence: null,
    ...(usage === null
      ? {}
      : {
          usage: final
            ? {
                input_tokens: usage.input_tokens,
                cache_creation_input_tokens: usage.cache_creation_input_tokens,
                cache_creation: cacheCreation(usage),
                cache_read_input_tokens: usage.cache_read_input_tokens,
                output_tokens: usage.output_tokens,
                service_tier: 'standard',
              }
            : startUsage(turn),
        }),
  };
}

function stopReason(turn: FakeTurn): string {
  return turn.terminal === 'incomplete' ? 'max_tokens' : 'end_turn';
}

export function messagesEvents(turn: FakeTurn): string[] {
  const event = (type: string, fields: Record<string, unknown> = {}): string => sseEvent(type, { type, ...fields });
  return [
    event('message_start', { message: message(turn, false) }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping'),
    ...turn.pieces.map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    event('content_block_stop', { index: 0 }),
    event('message_delta', {
      delta: { stop_reason: stopReason(turn), stop_sequence: null },
      ...(turn.usage === null ? {} : { usage: { output_tokens: turn.usage.output_tokens } }),
    }),
    event('message_stop'),
  ];
}

export function messagesBody(turn: FakeTurn): unknown {
  return message(turn, true);
}

const ANTHROPIC_ERRORS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function anthropicErrorBody(status: number): unknown {
  const type = ANTHROPIC_ERRORS[status] ?? 'api_error';
  return { type: 'error', error: { type, message: `Fake upstream ${type} (${status}).` } };
}
