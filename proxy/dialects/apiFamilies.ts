/**
 * The two vendor APIs as every route of theirs shares them, metered or not: which upstream serves
 * the route and the shape its errors take. Dialects build on these; free and refused routes use them alone.
 */
import type { ApiFamily } from './types';
import { anthropicErrorBody, openAiErrorBody, shapeDetails } from './errors';

export const openAiApi: ApiFamily = {
  vendor: 'openai',
  upstream: 'openai',
  errorBody: (kind, message, details) => openAiErrorBody(kind, message, shapeDetails(details)),
};

export const anthropicApi: ApiFamily = {
  vendor: 'anthropic',
  upstream: 'anthropic',
  errorBody: (kind, message, details) => anthropicErrorBody(kind, message, shapeDetails(details)),
};
