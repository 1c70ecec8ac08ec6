/**
 * The `data:`-chunk streams of Chat Completions and legacy Completions. Such a stream carries usage
 * only when the request asked for `stream_options.include_usage`, so the gateway asks for it itself
 * and, when the client had not, removes that one extra chunk (`choices: []` plus usage) so the client
 * sees the stream it asked for.
 *
 * Terminal event: `data: [DONE]`. The usage chunk comes right before it, but it is not the end: a
 * stream cut between the two still lacks its final marker, and a client would notice.
 */
import type { DialectRequest, StreamMeter, StreamMeterOptions } from './types';
import type { SseEvent } from './sse';
import { DialectObserver, SseStreamMeter, type EventRewrite } from './sseMeter';
import { field, isObject } from './json';
import { openAiUsage } from './usageFields';

const USAGE_KEY = Buffer.from('"usage"');
const NO_USAGE = Buffer.from('"usage":null');

/** Cheap test before parsing: OpenAI streams say `"usage":null` on every chunk but the one that counts. */
function mayCarryUsage(event: SseEvent): boolean {
  return event.includes(USAGE_KEY) && !event.includes(NO_USAGE);
}

/** Adds include_usage to a streaming request that lacks it, on a copy: the caller's body stays as it was. */
export function askForStreamUsage(
  body: Record<string, unknown>,
  request: DialectRequest,
): { body: Record<string, unknown>; stripUsageChunk: boolean } {
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

class ChunkObserver extends DialectObserver {
  constructor(
    private readonly stripUsageChunk: boolean,
    choiceText: (choice: unknown) => string,
  ) {
    super((chunk) => {
      const choices = field(chunk, 'choices');
      return Array.isArray(choices) ? choices.map(choiceText).join('') : '';
    });
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
    const chunk = event.usageView();
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

/** `choiceText` is the billed output text one choice of a chunk carries. */
export function chunkStreamMeter(options: StreamMeterOptions, choiceText: (choice: unknown) => string): StreamMeter {
  const strip = options.stripUsageChunk === true;
  return new SseStreamMeter(new ChunkObserver(strip, choiceText), strip);
}
