/** Small helpers for the gateway's own answers (JSON bodies, errors in the route's own shape). */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { openAiErrorBody } from '../dialects/errors';
import type { ApiFamily, ErrorParam, GatewayErrorKind, UsageLimitDetails } from '../dialects/types';

export const HTTP_STATUS: Readonly<Record<GatewayErrorKind, number>> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  request_timeout: 408,
  conflict: 409,
  too_large: 413,
  not_metered: 403,
  usage_limit: 429,
  internal: 500,
  // Not 401 (that reads as a wrong gateway token, and Codex retries it) nor 5xx (retried too).
  upstream_key_rejected: 403,
  upstream_unavailable: 502,
  ledger_busy: 503,
  ledger_unavailable: 503,
  gateway_stopping: 503,
  too_many_connections: 503,
  upstream_timeout: 504,
  ledger_full: 507,
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

export function sendError(
  res: ServerResponse,
  api: ApiFamily | null,
  kind: GatewayErrorKind,
  message: string,
  options: { headers?: Record<string, string>; details?: UsageLimitDetails | ErrorParam } = {},
): void {
  // Paths outside the vendors' APIs (the own API, unknown paths) answer in OpenAI's shape.
  const body = api ? api.errorBody(kind, message, options.details) : openAiErrorBody(kind, message);
  // The OpenAI and Anthropic SDKs retry a 429 three times unless told not to: a spent allowance
  // does not come back in a second.
  const headers = kind === 'usage_limit' ? { ...options.headers, 'x-should-retry': 'false' } : options.headers;
  sendJson(res, HTTP_STATUS[kind], body, headers);
}

/**
 * An error answer as raw bytes, for a socket the HTTP server has not handed over as a request (a
 * connection over the cap, a request that timed out before it arrived). The route is unknown, so
 * the body is in OpenAI's shape; the connection closes after it.
 */
export function rawErrorResponse(kind: GatewayErrorKind, message: string, headers: Record<string, string> = {}): string {
  const status = HTTP_STATUS[kind];
  const payload = JSON.stringify(openAiErrorBody(kind, message));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'connection: close',
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(payload)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${payload}`;
}
