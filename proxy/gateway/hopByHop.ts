/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: a proxy must not
 * forward them in either direction. Forwarding a client's `Connection: close` upstream, for one, made
 * the upstream close a pooled socket the gateway then reused, and the next request failed.
 */
import type { IncomingHttpHeaders } from 'node:http';

const ALWAYS_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** The extra names a message's `Connection` header lists (besides close/keep-alive), or null for none. */
export function connectionListed(headers: IncomingHttpHeaders): Set<string> | null {
  const value = headers.connection;
  // What nearly every client sends: nothing beyond the always-hop-by-hop names to parse.
  if (value === undefined || value === 'keep-alive' || value === 'close') return null;
  let listed: Set<string> | null = null;
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    (listed ??= new Set()).add(name);
  }
  return listed;
}

/** True when `name` (lower case, as Node gives it) must not cross the proxy. */
export function isHopByHop(name: string, listed: Set<string> | null): boolean {
  return ALWAYS_HOP_BY_HOP.has(name) || (listed !== null && listed.has(name));
}
