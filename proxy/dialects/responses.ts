/**
 * OpenAI Responses (POST /v1/responses), the only wire API Codex CLI speaks. Usage arrives in the
 * terminal event (`response.completed`, `.incomplete`, `.failed` — all billed); the gateway may put
 * one event (codex.rate_limits) right before that terminal event via `beforeTerminal`.
 */
import type { Dialect, DialectRequest, StreamMeterOptions, Validation } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { openAiApi } from './apiFamilies';
import { collectPromptText, field, isObject, joinText, sniffJsonType, toolsText } from './json';
import { openAiUsage } from './usageFields';
import { countOrNull, firstError, invalid, optionalBoolean, optionalCount, requireInput, requireModel, requireObjectBody } from './validation';

const TERMINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Deltas of generated output: answer text, reasoning the client sees, tool-call arguments. */
const OUTPUT_DELTA_EVENTS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.reasoning_summary_text.delta',
  'response.reasoning_text.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
]);

/**
 * A background response runs on after its request returns and is fetched later by id, so no response
 * the gateway sees would carry its usage: refused rather than billed for its input alone.
 */
const BACKGROUND_REFUSED =
  "Background responses ('background': true) cannot be metered through Creditgate: their output and usage " +
  'arrive after the request has returned. Send the request without background mode.';

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const input = fields.input;
  const error = firstError(
    requireModel(fields.model),
    optionalBoolean(fields.stream, 'stream'),
    optionalBoolean(fields.background, 'background'),
    fields.background === true ? { message: BACKGROUND_REFUSED, param: 'background' } : null,
    requireInput(input, 'input', 'an array of input items'),
    optionalCount(fields.max_output_tokens, 'max_output_tokens'),
  );
  if (error) return invalid(error);
  const request: DialectRequest = {
    model: fields.model as string,
    stream: fields.stream === true,
    maxOutputTokens: countOrNull(fields.max_output_tokens),
    promptText: joinText([...collectPromptText(fields.instructions), ...collectPromptText(input), toolsText(fields.tools)]),
  };
  return { ok: true, request };
}

function deltaText(event: unknown): string {
  const delta = field(event, 'delta');
  return typeof delta === 'string' ? delta : '';
}

class ResponsesObserver extends DialectObserver {
  constructor(private readonly beforeTerminal: StreamMeterOptions['beforeTerminal']) {
    super(deltaText);
  }

  onEvent(event: SseEvent): EventRewrite {
    const type = event.type || sniffJsonType(event.data);
    if (OUTPUT_DELTA_EVENTS.has(type)) {
      this.text.add(event);
      return 'keep';
    }
    if (!TERMINAL_EVENTS.has(type)) return 'keep';

    // The terminal event repeats the whole answer: only its usage is read (SseEvent.usageView).
    const usage = openAiUsage(field(field(event.usageView(), 'response'), 'usage'));
    if (usage) this.lastUsage = usage;
    const firstTerminal = !this.terminal;
    this.terminal = true;
    const inserted = firstTerminal && this.beforeTerminal ? this.beforeTerminal(this.lastUsage) : null;
    if (inserted === 'hold') return 'hold';
    return inserted && inserted.length > 0 ? { insertBefore: inserted } : 'keep';
  }
}

export const responsesDialect: Dialect = {
  name: 'responses',
  ...openAiApi,
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: (options) =>
    new SseStreamMeter(new ResponsesObserver(options.beforeTerminal), options.beforeTerminal !== undefined),
};
