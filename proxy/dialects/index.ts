/** Route → dialect (SPEC §2). Routes outside /v1/* are the gateway's own, so they map to null. */
import type { Dialect } from './types';
import { chatCompletionsDialect } from './chatCompletions';
import { messagesDialect } from './messages';
import { anthropicPassthroughDialect, passthroughDialect } from './passthrough';
import { responsesDialect } from './responses';

export { chatCompletionsDialect, messagesDialect, passthroughDialect, anthropicPassthroughDialect, responsesDialect };

/** Accepts a bare pathname or a request URL with its query string (`/v1/messages?beta=true`). */
export function dialectForRoute(method: string, pathname: string): Dialect | null {
  const queryAt = pathname.indexOf('?');
  const path = queryAt < 0 ? pathname : pathname.slice(0, queryAt);
  if (!path.startsWith('/v1/')) return null;
  if (method.toUpperCase() === 'POST') {
    if (path === '/v1/responses') return responsesDialect;
    if (path === '/v1/chat/completions') return chatCompletionsDialect;
    if (path === '/v1/messages') return messagesDialect;
  }
  // Claude Code also calls /v1/messages/count_tokens: it belongs to Anthropic, not the OpenAI upstream.
  if (path.startsWith('/v1/messages/')) return anthropicPassthroughDialect;
  return passthroughDialect;
}
