/**
 * OpenAI Chat Completions (POST /v1/chat/completions). Streams are `data:` chunks ending in [DONE],
 * with usage only on request (see chunkStream.ts).
 */
import type { Dialect, DialectRequest, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { askForStreamUsage, chunkStreamMeter } from './chunkStream';
import { collectPromptText, isObject, joinText, toolsText } from './json';
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

/** Content, refusals and tool-call arguments of a choice's delta: all of it is billed output. */
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
  ...openAiApi,
  validate,
  prepare: askForStreamUsage,
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: (options) => chunkStreamMeter(options, deltaText),
};
