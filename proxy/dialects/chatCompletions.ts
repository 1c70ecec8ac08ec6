/**
 * OpenAI Chat Completions (POST /v1/chat/completions). A stream carries usage only when the request
 * asked for `stream_options.include_usage`, so the gateway asks for it itself and, when the client had
 * not, removes that one extra chunk (`choices: []` plus usage) so the client sees the stream it asked for.
 *
 * Terminal event: `data: [DONE]`. The usage chunk comes right before it, but it is not the end: a
 * stream cut between the two still lacks its final marker, and a client would notice.
 */
import type { Dialect, DialectRequest, Validation } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { mayCarryUsage } from './deferredText';
import { openAiErrorBody, shapeDetails } from './errors';
import { collectPromptText, field, isObject, joinText, parseJson, toolsText } from './json';
import { openAiUsage } from './usageFields';
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
  const error = firstError(
    requireModel(fields.model),
    requireArray(fields.messages, 'messages'),
    optionalBoolean(fields.stream, 'stream'),
    optionalCount(fields.max_tokens, 'max_tokens'),
    optionalCount(fields.max_completion_tokens, 'max_completion_tokens'),
    optionalCount(fields.n, 'n'),
  );
  if (error) return invalid(error);
  const request: DialectRequest = {
    model: fields.model as string,
    stream: fields.stream === true,
    // max_tokens is the deprecated spelling; the newer field wins when both are sent.
    maxOutputTokens: countOrNull(fields.max_completion_tokens) ?? countOrNull(fields.max_tokens),
    promptText: joinText([
      ...collectPromptText(fields.messages),
      toolsText(fields.tools),
      toolsText(fields.functions),
    ]),
  };
  return { ok: true, request };
}

/** Adds include_usage to a streaming request that lacks it, on a copy: the caller's body stays as it was. */
function prepare(body: Record<string, unknown>, request: DialectRequest): { body: Record<string, unknown>; stripUsageChunk: boolean } {
  const streamOptions = body.stream_options;
  if (!request.stream || (isObject(streamOptions) && streamOptions.include_usage === true)) {
    return { body, stripUsageChunk: false };
  }
  // A stream_options that is not an object is the upstream's to reject; leave it alone.
  if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions)) {
    return { body, stripUsageChunk: false };
  }
  return {
    body: { ...body, stream_options: { ...(streamOptions ?? {}), include_usage: true } },
    stripUsageChunk: true,
  };
}

/** Content, refusals and tool-call arguments of every choice: all of it is billed output. */
function chunkText(chunk: unknown): string {
  const choices = field(chunk, 'choices');
  return Array.isArray(choices) ? choices.map(deltaText).join('') : '';
}

class ChatObserver extends DialectObserver {
  constructor(private readonly stripUsageChunk: boolean) {
    super(chunkText);
  }

  onEvent(event: SseEvent): EventRewrite {
    if (event.dataEquals('[DONE]')) {
      this.terminal = true;
      return 'keep';
    }
    if (!mayCarryUsage(event)) {
      this.text.add(event);
      return 'keep';
    }
    const chunk = parseJson(event.data);
    if (!isObject(chunk)) return 'keep';
    const usage = openAiUsage(chunk.usage);
    if (usage) this.lastUsage = usage;
    const choices = chunk.choices;
    // Only the usage-only chunk goes: a provider that puts usage on a content chunk keeps that chunk.
    if (usage && this.stripUsageChunk && Array.isArray(choices) && choices.length === 0) return 'drop';
    this.text.add(event);
    return 'keep';
  }
}

function deltaText(choice: unknown): string {
  const delta = isObject(choice) ? choice.delta : undefined;
  if (!isObject(delta)) return '';
  let text = typeof delta.content === 'string' ? delta.content : '';
  if (typeof delta.refusal === 'string') text += delta.refusal;
  if (Array.isArray(delta.tool_calls)) {
    for (const call of delta.tool_calls) {
      const fn = isObject(call) ? call.function : undefined;
      if (isObject(fn)) text += `${typeof fn.name === 'string' ? fn.name : ''}${typeof fn.arguments === 'string' ? fn.arguments : ''}`;
    }
  }
  return text;
}

export const chatCompletionsDialect: Dialect = {
  name: 'chat',
  vendor: 'openai',
  upstream: 'openai',
  validate,
  prepare,
  errorBody: (kind, message, details) => openAiErrorBody(kind, message, shapeDetails(details)),
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: (options) => {
    const strip = options.stripUsageChunk === true;
    return new SseStreamMeter(new ChatObserver(strip), strip);
  },
};
