/**
 * OpenAI moderation (POST /v1/moderations). Free at the vendor and priced 0 on the default card, but
 * metered all the same: admitted like any request (a blocked account is refused) and recorded. Its
 * responses report no usage, so the row counts the input with the gateway's tokenizer (an estimate).
 */
import type { Dialect, Validation } from './types';
import { openAiApi } from './apiFamilies';
import { eventStreamMeter } from './eventStream';
import { collectPromptText, isObject, joinText } from './json';
import { openAiUsage } from './usageFields';
import { firstError, invalid, optionalModel, requireInput, requireObjectBody } from './validation';

/** The model the API uses when the request names none. */
const DEFAULT_MODEL = 'omni-moderation-latest';

function validate(body: unknown): Validation {
  const notObject = requireObjectBody(body);
  if (notObject) return invalid(notObject);
  const fields = body as Record<string, unknown>;
  const input = fields.input;
  const error = firstError(
    optionalModel(fields.model),
    requireInput(input),
  );
  if (error) return invalid(error);
  return {
    ok: true,
    request: {
      model: typeof fields.model === 'string' && fields.model !== '' ? fields.model : DEFAULT_MODEL,
      stream: false,
      maxOutputTokens: 0,
      promptText: joinText(collectPromptText(input)),
    },
  };
}

export const moderationsDialect: Dialect = {
  name: 'moderations',
  ...openAiApi,
  validate,
  prepare: (body) => ({ body, stripUsageChunk: false }),
  usageFromBody: (body) => (isObject(body) ? openAiUsage(body.usage) : null),
  createStreamMeter: () => eventStreamMeter({ terminalTypes: [], usageOf: () => null }),
};
