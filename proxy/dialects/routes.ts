/**
 * Which /v1 routes the gateway serves, and how: an allowlist, so a route nobody decided on is refused
 * rather than forwarded unmetered. Each route is one of
 *   - metered: a dialect validates it, admits it against the account, and bills its response;
 *   - free: forwarded unmetered (with the upstream key) because it cannot cost anything;
 *   - refused: answered by the gateway, in the API's own error shape, and never forwarded.
 * Paths reach here already normalised (gateway/requestPath.ts): no query, no `//`, no trailing `/`.
 */
import type { ApiFamily, Dialect } from './types';
import { anthropicApi, openAiApi } from './apiFamilies';
import { chatCompletionsDialect } from './chatCompletions';
import { completionsDialect } from './completions';
import { embeddingsDialect } from './embeddings';
import { imagesDialect } from './images';
import { messagesDialect } from './messages';
import { moderationsDialect } from './moderations';
import { responsesDialect } from './responses';
import { speechDialect } from './speech';
import { transcriptionsDialect } from './transcriptions';

/** `api` answers the route's errors in its own shape; on a metered route it is the metering dialect. */
export type Route =
  | { kind: 'metered'; api: Dialect }
  | { kind: 'free'; api: ApiFamily }
  | { kind: 'refused'; api: ApiFamily; message: string };

/** POST routes and the dialect that meters each (one Route object each: routing allocates nothing). */
const METERED: ReadonlyMap<string, Route> = new Map(
  (
    [
  ['/v1/responses', responsesDialect],
  ['/v1/chat/completions', chatCompletionsDialect],
  ['/v1/messages', messagesDialect],
  ['/v1/completions', completionsDialect],
  ['/v1/embeddings', embeddingsDialect],
  ['/v1/images/generations', imagesDialect],
  ['/v1/images/edits', imagesDialect],
  ['/v1/images/variations', imagesDialect],
  ['/v1/audio/speech', speechDialect],
  ['/v1/audio/transcriptions', transcriptionsDialect],
  ['/v1/audio/translations', transcriptionsDialect],
  ['/v1/moderations', moderationsDialect],
    ] as const
  ).map(([path, dialect]) => [path, { kind: 'metered', api: dialect }]),
);

/** One path segment (an id): anything but a slash. */
const ID = '[^/]+';

/** Routes that cannot cost anything, each with why. */
const FREE: readonly { method: string; path: RegExp; api: ApiFamily }[] = [
  // Listing and describing models reads a catalogue.
  { method: 'GET', path: /^\/v1\/models$/, api: openAiApi },
  { method: 'GET', path: new RegExp(`^/v1/models/${ID}$`), api: openAiApi },
  // Counting a prompt's tokens is free at both vendors and generates nothing.
  { method: 'POST', path: /^\/v1\/messages\/count_tokens$/, api: anthropicApi },
  { method: 'POST', path: /^\/v1\/responses\/input_tokens$/, api: openAiApi },
  // A stored response, its input items, its deletion: background mode is refused, so every stored
  // response was created through the gateway and metered then; reading it again generates nothing.
  { method: 'GET', path: new RegExp(`^/v1/responses/${ID}$`), api: openAiApi },
  { method: 'DELETE', path: new RegExp(`^/v1/responses/${ID}$`), api: openAiApi },
  { method: 'GET', path: new RegExp(`^/v1/responses/${ID}/input_items$`), api: openAiApi },
  // Cancelling only stops a (background) response; it never starts one.
  { method: 'POST', path: new RegExp(`^/v1/responses/${ID}/cancel$`), api: openAiApi },
];

/** Anthropic's own paths (everything else under /v1 is OpenAI's): errors there take Anthropic's shape. */
const ANTHROPIC_PATH = /^\/v1\/(messages|complete)(\/|$)/;

/** The route for a method and normalised path, or null for a path outside /v1 (the gateway's own). */
export function routeFor(method: string, path: string): Route | null {
  if (!path.startsWith('/v1/')) return null;
  // Node hands methods over in upper case already; other callers may not.
  const verb = method === 'POST' || method === 'GET' ? method : method.toUpperCase();
  const metered = verb === 'POST' ? METERED.get(path) : undefined;
  if (metered) return metered;
  const free = FREE.find((route) => route.method === verb && route.path.test(path));
  if (free) return { kind: 'free', api: free.api };
  return {
    kind: 'refused',
    api: apiFamilyForPath(path),
    message:
      `Creditgate cannot meter ${verb} ${path}, so it does not forward it: only routes whose cost it can ` +
      'price, or that cost nothing, pass through the gateway.',
  };
}

/** The API a path belongs to, for answering in its error shape even before the path is normalised. */
export function apiFamilyForPath(path: string): ApiFamily {
  return ANTHROPIC_PATH.test(path.replace(/\/{2,}/g, '/')) ? anthropicApi : openAiApi;
}
