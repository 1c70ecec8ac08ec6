/** Each vendor's usage object mapped to MeteredUsage, keeping the vendor's meaning (docs/product.md §6). */
import type { MeteredUsage } from '../../shared/usage';
import { field, isObject, tokenCount } from './json';

/**
 * OpenAI usage, in either naming: Responses (`input_tokens`/`output_tokens` with `*_details`) or
 * Chat Completions and embeddings (`prompt_tokens`/`completion_tokens`). Input includes cache reads
 * and writes, image and audio tokens; output includes reasoning. Audio billed by duration
 * (`{"type":"duration","seconds"}`) maps to seconds.
 */
export function openAiUsage(usage: unknown): MeteredUsage | null {
  if (!isObject(usage)) return null;
  const metered: MeteredUsage = {
    vendor: 'openai',
    inputTokens: tokenCount(usage.input_tokens ?? usage.prompt_tokens),
    cachedInputTokens: tokenCount(
      field(usage.input_tokens_details, 'cached_tokens') ?? field(usage.prompt_tokens_details, 'cached_tokens'),
    ),
    cacheWriteTokens: tokenCount(
      field(usage.input_tokens_details, 'cache_write_tokens') ?? field(usage.prompt_tokens_details, 'cache_write_tokens'),
    ),
    outputTokens: tokenCount(usage.output_tokens ?? usage.completion_tokens),
    reasoningTokens: tokenCount(
      field(usage.output_tokens_details, 'reasoning_tokens') ?? field(usage.completion_tokens_details, 'reasoning_tokens'),
    ),
  };
  // Image edits report `input_tokens_details`, transcription `input_token_details` (sic), Chat with audio `prompt_tokens_details`.
  const details = usage.input_tokens_details ?? usage.input_token_details ?? usage.prompt_tokens_details;
  const imageTokens = tokenCount(field(details, 'image_tokens'));
  const audioTokens = tokenCount(field(details, 'audio_tokens'));
  if (imageTokens > 0) metered.imageInputTokens = imageTokens;
  if (audioTokens > 0) metered.audioInputTokens = audioTokens;
  if (usage.type === 'duration' && typeof usage.seconds === 'number') metered.audioSeconds = Math.max(0, usage.seconds);
  return metered;
}

/**
 * Anthropic usage: input excludes cache reads and writes, which are reported separately; the writes'
 * split by lifetime (`cache_creation.ephemeral_1h_input_tokens`) prices the hour-long ones apart.
 */
export function anthropicUsage(usage: unknown): MeteredUsage | null {
  if (!isObject(usage)) return null;
  const metered: MeteredUsage = {
    vendor: 'anthropic',
    inputTokens: tokenCount(usage.input_tokens),
    cachedInputTokens: tokenCount(usage.cache_read_input_tokens),
    cacheWriteTokens: tokenCount(usage.cache_creation_input_tokens),
    outputTokens: tokenCount(usage.output_tokens),
    reasoningTokens: 0,
  };
  const writtenForAnHour = tokenCount(field(usage.cache_creation, 'ephemeral_1h_input_tokens'));
  if (writtenForAnHour > 0) metered.cacheWrite1hTokens = writtenForAnHour;
  return metered;
}
