/**
 * OpenAI legacy Completions (POST /v1/completions), priced in tokens. Streams are `data:` chunks
 * ending in [DONE], like Chat's, with the text in `choices[].text`; the gateway asks for their usage
 * itself (see chunkStream.ts).
 */
import type { Dialect, DialectRequest, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { askForStreamUsage, chunkStreamMeter } from './chunkStream';
import { field, isObject } from './json';
import { openAiUsage } from './usageFields';
import { countOrNull, firstError, invalid, optionalBoolean, optionalCount, requireModel, requireObjectBody } from './validation';

/** The API's own default for max_tokens on this route. */
const DEFAULT_MAX_TOKENS = 16;

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const prompt = fields.prompt;
  const error = firstError(
    requireModel(fields.model),
    prompt === undefined || prompt === null
      ? { message: "Missing required parameter: 'prompt'.", param: 'prompt' }
      : typeof prompt === 'string' || Array.isArray(prompt)
        ? null
        : { message: "Invalid type for 'prompt': expected a string or an array.", param: 'prompt' },
    optionalBoolean(fields.stream, 'stream'),
    optionalCount(fields.max_tokens, 'max_tokens'),
    optionalCount(fields.n, 'n'),
    optionalCount(fields.best_of, 'best_of'),
  );
  if (error) return invalid(error);
  // best_of completions are generated (and billed) upstream, n of them returned.
  const completions = Math.max(1, countOrNull(fields.n) ?? 1, countOrNull(fields.best_of) ?? 1);
  const request: DialectRequest = {
    model: fields.model as string,
    stream: fields.stream === true,
    maxOutputTokens: (countOrNull(fields.max_tokens) ?? DEFAULT_MAX_TOKENS) * completions,
    // Token-id prompts have no text to count; the upstream's usage counts them.
    promptText: typeof prompt === 'string' ? prompt : (prompt as unknown[]).filter((item) => typeof item === 'string').join('\n'),
  };
  return { ok: true, request };
}

function choiceText(choice: unknown): string {
  const text = field(choice, 'text');
  return typeof text === 'string' ? text : '';
}

export const completionsDialect: Dialect = {
  name: 'completions',
  ...openAiApi,
  validate,
  prepare: askForStreamUsage,
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: (options) => chunkStreamMeter(options, choiceText),
};
