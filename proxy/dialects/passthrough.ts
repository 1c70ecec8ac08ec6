/**
 * Every other /v1/* route, forwarded as is and metered only when the response reports usage:
 * embeddings (`prompt_tokens` + `total_tokens`), images and audio (`input_tokens`/`output_tokens`, or
 * `{"type":"duration","seconds"}`), or an event stream whose events carry a `usage` object.
 * Validation is limited to "a JSON object, or no body"; `model` is optional ('' when absent).
 */
import type { MeteredUsage, Vendor } from '../../shared/usage';
import type { Dialect, Validation } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { mayCarryUsage } from './deferredText';
import { anthropicErrorBody, openAiErrorBody, shapeDetails } from './errors';
import { field, isObject, parseJson } from './json';
import { anthropicUsage, openAiUsage } from './usageFields';
import { countOrNull, firstError, invalid, optionalBoolean, optionalModel, requireObjectBody } from './validation';

const TERMINAL_TYPES = ['"response.completed"', '"response.incomplete"', '"response.failed"', '"message_stop"'];

function validate(body: unknown): Validation {
  if (body === undefined || body === null) {
    return { ok: true, request: { model: '', stream: false, maxOutputTokens: null, promptText: '' } };
  }
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const error = firstError(optionalModel(fields.model), optionalBoolean(fields.stream, 'stream'));
  if (error) return invalid(error);
  const input = fields.input ?? fields.prompt;
  return {
    ok: true,
    request: {
      model: typeof fields.model === 'string' ? fields.model : '',
      stream: fields.stream === true,
      maxOutputTokens: countOrNull(fields.max_output_tokens ?? fields.max_tokens),
      promptText: typeof input === 'string' ? input : Array.isArray(input) ? input.filter((s) => typeof s === 'string').join('\n') : '',
    },
  };
}

/** Usage wherever a known body or event keeps it: top level, or inside `response` / `message`. */
function usageIn(value: unknown, read: (usage: unknown) => MeteredUsage | null): MeteredUsage | null {
  if (!isObject(value)) return null;
  return read(value.usage) ?? read(field(value.response, 'usage')) ?? read(field(value.message, 'usage'));
}

/** Best effort across shapes: a string `delta`, or Chat's choices[].delta.content. */
function anyDeltaText(event: unknown): string {
  const delta = field(event, 'delta');
  let text = typeof delta === 'string' ? delta : '';
  const choices = field(event, 'choices');
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      const content = field(field(choice, 'delta'), 'content');
      if (typeof content === 'string') text += content;
    }
  }
  return text;
}

class PassthroughObserver extends DialectObserver {
  constructor(private readonly readUsage: (usage: unknown) => MeteredUsage | null) {
    super(anyDeltaText);
  }

  onEvent(event: SseEvent): EventRewrite {
    if (event.dataEquals('[DONE]')) {
      this.terminal = true;
      return 'keep';
    }
    if (TERMINAL_TYPES.some((type) => event.includes(type))) this.terminal = true;
    if (mayCarryUsage(event)) {
      this.lastUsage = usageIn(parseJson(event.data), this.readUsage) ?? this.lastUsage;
    } else if (event.includes('delta')) {
      this.text.add(event);
    }
    return 'keep';
  }
}

function passthroughFor(vendor: Vendor): Dialect {
  const readUsage = vendor === 'openai' ? openAiUsage : anthropicUsage;
  const errorShape = vendor === 'openai' ? openAiErrorBody : anthropicErrorBody;
  return {
    name: 'passthrough',
    vendor,
    upstream: vendor,
    validate,
    prepare: (body) => ({ body, stripUsageChunk: false }),
    errorBody: (kind, message, details) => errorShape(kind, message, shapeDetails(details)),
    usageFromBody: (body) => usageIn(body, readUsage),
    createStreamMeter: () => new SseStreamMeter(new PassthroughObserver(readUsage), false),
  };
}

/** Other OpenAI-compatible /v1/* routes (embeddings, images, audio, models, files, ...). */
export const passthroughDialect: Dialect = passthroughFor('openai');

/** Anthropic routes beside Messages (/v1/messages/count_tokens, /v1/messages/batches): Anthropic upstream and error shape. */
export const anthropicPassthroughDialect: Dialect = passthroughFor('anthropic');
