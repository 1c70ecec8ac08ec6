/**
 * A streamed answer put back together as the non-streaming body its API would have sent, per dialect.
 *
 * Why: a non-streaming request cannot be stopped midway, so when the gateway cannot forward an output
 * limit that bounds it (no limit of the client's own, a model whose maximum the rate card does not
 * give, a cap above 16,384 tokens), it can instead forward the request as a stream, which it ends at the
 * spending bound, and answer the client with the body assembled here (gateway/meteredExchange.ts).
 *
 * Each assembler takes the stream's events in order (the `event:` name, or '' when absent, and the
 * parsed `data:` JSON) and, at the end, gives the body. Fields the streamed form does not carry
 * (Chat's logprobs when not asked for) are left as the non-streaming form has them when absent.
 */

import { isObject, parseJson, type JsonObject } from './json';

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const index = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0);

export interface StreamAssembler {
  push(eventName: string, data: unknown): void;
  /** The non-streaming body, or null when the stream never said what it answered. */
  body(): JsonObject | null;
}

/** Chat Completions: chunks of `choices[].delta`, the usage in a last chunk without choices. */
export class ChatAssembler implements StreamAssembler {
  private head: JsonObject | null = null;
  private usage: unknown = undefined;
  private readonly choices = new Map<number, { content: string | null; refusal: string | null; toolCalls: Map<number, JsonObject>; finish: unknown }>();

  push(_eventName: string, data: unknown): void {
    if (!isObject(data)) return;
    this.head ??= data;
    if (data.usage !== undefined && data.usage !== null) this.usage = data.usage;
    if (!Array.isArray(data.choices)) return;
    for (const choice of data.choices) {
      if (!isObject(choice)) continue;
      const at = index(choice.index);
      let kept = this.choices.get(at);
      if (!kept) this.choices.set(at, (kept = { content: null, refusal: null, toolCalls: new Map(), finish: null }));
      const delta = isObject(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string') kept.content = (kept.content ?? '') + delta.content;
      if (typeof delta.refusal === 'string') kept.refusal = (kept.refusal ?? '') + delta.refusal;
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isObject(call)) this.addToolCall(kept.toolCalls, call);
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) kept.finish = choice.finish_reason;
    }
  }

  body(): JsonObject | null {
    if (!this.head) return null;
    const choices = [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([at, kept]) => {
        const message: JsonObject = { role: 'assistant', content: kept.content, refusal: kept.refusal };
        if (kept.toolCalls.size > 0) message.tool_calls = [...kept.toolCalls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
        return { index: at, message, logprobs: null, finish_reason: kept.finish };
      });
    const body: JsonObject = { id: this.head.id, object: 'chat.completion', created: this.head.created, model: this.head.model, choices };
    for (const optional of ['system_fingerprint', 'service_tier'] as const) if (this.head[optional] !== undefined) body[optional] = this.head[optional];
    if (this.usage !== undefined) body.usage = this.usage;
    return body;
  }

  /** A tool call arrives in pieces by `index`: its id, type and name once, its arguments as fragments. */
  private addToolCall(calls: Map<number, JsonObject>, piece: JsonObject): void {
    const at = index(piece.index);
    const call = calls.get(at) ?? { id: '', type: 'function', function: { name: '', arguments: '' } };
    if (typeof piece.id === 'string') call.id = piece.id;
    if (typeof piece.type === 'string') call.type = piece.type;
    const fn = call.function as { name: string; arguments: string };
    if (isObject(piece.function)) {
      fn.name += text(piece.function.name);
      fn.arguments += text(piece.function.arguments);
    }
    calls.set(at, call);
  }
}

/** Anthropic Messages: message_start, content blocks by index, message_delta with the stop and usage. */
export class MessagesAssembler implements StreamAssembler {
  private message: JsonObject | null = null;
  private readonly blocks = new Map<number, { block: JsonObject; json: string | null }>();

  push(eventName: string, data: unknown): void {
    if (!isObject(data)) return;
    const type = typeof data.type === 'string' ? data.type : eventName;
    if (type === 'message_start' && isObject(data.message)) {
      this.message = { ...data.message };
    } else if (type === 'content_block_start' && isObject(data.content_block)) {
      const block = { ...data.content_block };
      // A tool call's input streams as JSON text; the start event's `{}` is a placeholder.
      const streamsJson = block.type === 'tool_use' || block.type === 'server_tool_use';
      this.blocks.set(index(data.index), { block, json: streamsJson ? '' : null });
    } else if (type === 'content_block_delta' && isObject(data.delta)) {
      this.addDelta(index(data.index), data.delta);
    } else if (type === 'content_block_stop') {
      const kept = this.blocks.get(index(data.index));
      if (kept && kept.json !== null) kept.block.input = toolInput(kept.json);
    } else if (type === 'message_delta' && this.message) {
      if (isObject(data.delta)) Object.assign(this.message, data.delta);
      if (isObject(data.usage)) this.message.usage = { ...(isObject(this.message.usage) ? this.message.usage : {}), ...data.usage };
    }
  }

  body(): JsonObject | null {
    if (!this.message) return null;
    for (const kept of this.blocks.values()) if (kept.json !== null && kept.block.input === undefined) kept.block.input = toolInput(kept.json);
    const content = [...this.blocks.entries()].sort(([a], [b]) => a - b).map(([, kept]) => kept.block);
    return { ...this.message, content };
  }

  private addDelta(at: number, delta: JsonObject): void {
    const kept = this.blocks.get(at);
    if (!kept) return;
    const { block } = kept;
    switch (delta.type) {
      case 'text_delta':
        block.text = text(block.text) + text(delta.text);
        break;
      case 'input_json_delta':
        kept.json = (kept.json ?? '') + text(delta.partial_json);
        break;
      case 'thinking_delta':
        block.thinking = text(block.thinking) + text(delta.thinking);
        break;
      case 'signature_delta':
        block.signature = text(block.signature) + text(delta.signature);
        break;
      case 'citations_delta':
        block.citations = [...(Array.isArray(block.citations) ? (block.citations as unknown[]) : []), delta.citation];
        break;
    }
  }
}

/**
 * OpenAI Responses: the terminal event (`response.completed`, `.incomplete`, `.failed`) carries the
 * whole response; when it comes without its output (the gateway's own ending at the spending bound),
 * the output is the items finished so far plus the text of the one still being written.
 */
export class ResponsesAssembler implements StreamAssembler {
  private response: JsonObject | null = null;
  private readonly done = new Map<number, JsonObject>();
  private readonly partial = new Map<number, JsonObject>();

  push(eventName: string, data: unknown): void {
    if (!isObject(data)) return;
    const type = typeof data.type === 'string' ? data.type : eventName;
    if (type.startsWith('response.') && isObject(data.response)) this.response = data.response;
    if (type === 'response.output_item.added' && isObject(data.item)) this.partial.set(index(data.output_index), { ...data.item });
    if (type === 'response.output_item.done' && isObject(data.item)) {
      this.done.set(index(data.output_index), data.item);
      this.partial.delete(index(data.output_index));
    }
    if (type === 'response.output_text.delta') this.addText(index(data.output_index), index(data.content_index), text(data.delta));
  }

  body(): JsonObject | null {
    if (!this.response) return null;
    const output = this.response.output;
    if (Array.isArray(output) && output.length > 0) return this.response;
    const items = new Map([...this.partial, ...this.done]);
    return { ...this.response, output: [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item) };
  }

  private addText(at: number, part: number, delta: string): void {
    const item = this.partial.get(at);
    if (!item) return;
    const content = Array.isArray(item.content) ? (item.content as JsonObject[]) : (item.content = []);
    content[part] ??= { type: 'output_text', text: '', annotations: [] };
    content[part].text = text(content[part].text) + delta;
  }
}

/** A tool call's input from its streamed JSON text; `{}` when none came or it was cut off mid-argument (the stream ended at the bound). */
function toolInput(json: string): unknown {
  const input = json === '' ? undefined : parseJson(json);
  return input === undefined ? {} : input;
}

export function streamAssembler(dialect: string): StreamAssembler | null {
  switch (dialect) {
    case 'chat':
      return new ChatAssembler();
    case 'messages':
      return new MessagesAssembler();
    case 'responses':
      return new ResponsesAssembler();
    default:
      return null;
  }
}
