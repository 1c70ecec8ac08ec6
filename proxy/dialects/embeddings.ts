/**
 * OpenAI embeddings (POST /v1/embeddings), priced as input tokens: the response's
 * `usage.prompt_tokens`. Embeddings never stream.
 */
import type { Dialect, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { eventStreamMeter } from './eventStream';
import { isObject } from './json';
import { openAiUsage } from './usageFields';
import { firstError, invalid, requireInput, requireModel, requireObjectBody } from './validation';

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const input = fields.input;
  const error = firstError(
    requireModel(fields.model),
    requireInput(input),
  );
  if (error) return invalid(error);
  return {
    ok: true,
    request: {
      model: fields.model as string,
      stream: false,
      maxOutputTokens: 0,
      // Token-id inputs have no text to count; the upstream's usage counts them.
      promptText: typeof input === 'string' ? input : (input as unknown[]).filter((item) => typeof item === 'string').join('\n'),
    },
  };
}

export const embeddingsDialect: Dialect = {
  name: 'embeddings',
  ...openAiApi,
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  // Never a stream; should an upstream send one, a usage-less end is billed as an estimate.
  createStreamMeter: () => eventStreamMeter({ terminalTypes: [], usageOf: () => null }),
};
