/**
 * Anthropic Messages (POST /v1/messages, any query string: Claude Code sends `?beta=true`). Input and
 * cache figures arrive in `message_start`; `message_delta.usage.output_tokens` is cumulative, so the
 * last one is final (never summed). Terminal event: `message_stop`.
 */
import type { Dialect, DialectRequest, Validation } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { anthropicApi } from './apiFamilies';
import { collectPromptText, field, isObject, joinText, sniffJsonType, toolsText } from './json';
import { anthropicUsage } from './usageFields';
import {
  countOrNull,
  firstError,
  invalid,
  optionalBoolean,
  optionalCount,
  requireArray,
  requireModel,
  requireObjectBody,
} from './validation';

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  // max_tokens is required by Anthropic; a request without it is the upstream's to refuse.
  const error = firstError(
    requireModel(fields.model),
    requireArray(fields.messages, 'messages'),
    optionalCount(fields.max_tokens, 'max_tokens'),
    optionalBoolean(fields.stream, 'stream'),
  );
  if (error) return invalid(error);
  const request: DialectRequest = {
    model: fields.model as string,
    stream: fields.stream === true,
    maxOutputTokens: countOrNull(fields.max_tokens),
    promptText: joinText([...collectPromptText(fields.system), ...collectPromptText(fields.messages), toolsText(fields.tools)]),
  };
  return { ok: true, request };
}

/** Text, thinking and tool-input JSON deltas: all of it is billed output. */
function deltaText(event: unknown): string {
  const delta = field(event, 'delta');
  const text = isObject(delta) ? (delta.text ?? delta.thinking ?? delta.partial_json) : undefined;
  return typeof text === 'string' ? text : '';
}

class MessagesObserver extends DialectObserver {
  constructor() {
    super(deltaText);
  }

  onEvent(event: SseEvent): EventRewrite {
    const type = event.type || sniffJsonType(event.data);
    switch (type) {
      case 'content_block_delta':
        this.text.add(event);
        break;
      case 'message_start':
        this.lastUsage = anthropicUsage(field(field(event.usageView(), 'message'), 'usage')) ?? this.lastUsage;
        break;
      case 'message_delta':
        this.mergeDeltaUsage(field(event.usageView(), 'usage'));
        break;
      case 'message_stop':
        this.terminal = true;
        break;
    }
    return 'keep';
  }

  /** Fields present in message_delta.usage are cumulative totals: they replace, never add. */
  private mergeDeltaUsage(usage: unknown): void {
    const delta = anthropicUsage(usage);
    if (!delta || !isObject(usage)) return;
    const base = this.lastUsage ?? delta;
    this.lastUsage = {
      ...base,
      outputTokens: delta.outputTokens,
      inputTokens: usage.input_tokens != null ? delta.inputTokens : base.inputTokens,
      cachedInputTokens: usage.cache_read_input_tokens != null ? delta.cachedInputTokens : base.cachedInputTokens,
      cacheWriteTokens: usage.cache_creation_input_tokens != null ? delta.cacheWriteTokens : base.cacheWriteTokens,
      cacheWrite1hTokens: usage.cache_creation != null ? delta.cacheWrite1hTokens : base.cacheWrite1hTokens,
    };
  }
}

export const messagesDialect: Dialect = {
  name: 'messages',
  ...anthropicApi,
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: (body) => (isObject(body) ? anthropicUsage(body.usage) : null),
  createStreamMeter: () => new SseStreamMeter(new MessagesObserver(), false),
};
