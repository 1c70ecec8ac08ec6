/**
 * The gateway's front door (docs/product.md §2 Auth): loopback Host names only (DNS rebinding), no CORS, and a
 * gateway token in `Authorization: Bearer` or `x-api-key`.
 */
import type { IncomingMessage } from 'node:http';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A client sends the same Host on every request: the last one found good is checked by identity. */
let lastLoopbackHost: string | undefined;

/** True when the Host header names this machine's loopback (with any port), or is absent (HTTP/1.0). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === lastLoopbackHost) return true;
  const nameEnd = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  const name = nameEnd > 0 ? host.slice(0, nameEnd) : host;
  if (!LOOPBACK_HOSTS.has(name.toLowerCase())) return false;
  lastLoopbackHost = host;
  return true;
}

/** A browser's CORS preflight: the gateway never answers these, so no web page can call it. */
export function isCorsPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined;
}

/** The token a client presented, from `Authorization: Bearer …` or `x-api-key`, or null. */
export function presentedToken(req: IncomingMessage): string | null {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1]) return match[1];
  }
  const apiKey = req.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : null;
}
