/** Value parsers shared by the config file schema and the environment overrides. */
import { isIP } from 'node:net';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * An upstream base URL: http(s) only, no embedded credentials (keys never live in the config), and
 * without trailing slashes so route paths can be appended as `${baseUrl}/responses`.
 */
export function parseBaseUrl(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: `expected an http(s) URL, got ${JSON.stringify(text)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `expected an http(s) URL, got the scheme "${url.protocol}"` };
  }
  if (url.username || url.password) {
    return { ok: false, message: 'the URL must not contain credentials (API keys come from the environment)' };
  }
  if (url.search || url.hash) return { ok: false, message: 'the URL must not have a query string or fragment' };
  return { ok: true, value: text.replace(/\/+$/, '') };
}

export const MAX_PORT = 65_535;

/** A TCP port from text (environment variables): 0 (pick a free port) through 65535. */
export function parsePort(text: string): Parsed<number> {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (Number.isInteger(port) && port <= MAX_PORT) return { ok: true, value: port };
  return { ok: false, message: `expected a port number from 0 to ${MAX_PORT}, got ${JSON.stringify(text)}` };
}

/**
 * The team ledger's PostgreSQL server (docs/product.md §8): a postgres:// or postgresql:// URL. It may
 * carry a password, so no message quotes it.
 */
export function parseDatabaseUrl(text: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, message: 'expected a postgres:// URL (postgres://user:password@host:5432/database)' };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return { ok: false, message: `expected a postgres:// URL, got the scheme "${url.protocol}"` };
  }
  if (!url.hostname && !url.searchParams.has('host')) return { ok: false, message: 'the database URL names no host' };
  return { ok: true, value: text.trim() };
}

/**
 * The address `creditgate serve` listens on: an IP address (`--host`), IPv6 with or without brackets.
 * Names are refused: which address a name resolves to, and so who can reach the gateway, should be
 * what the user typed, not what a resolver answered at start.
 */
export function parseListenHost(text: string): Parsed<string> {
  const trimmed = text.trim();
  const address = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  if (isIP(address) !== 0) return { ok: true, value: address.toLowerCase() };
  return { ok: false, message: `expected an IP address to listen on (127.0.0.1, 0.0.0.0, ::, 10.0.0.5…), got ${JSON.stringify(text)}` };
}

/** A DNS name: dot-separated labels of letters, digits and inner hyphens. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * A name clients may put in the Host header (`--allowed-host`): a DNS name or an IP address, without
 * a port (any port is accepted). Normalised as it is compared: lower case, IPv6 in brackets.
 */
export function parseHostName(text: string): Parsed<string> {
  const name = text.trim().toLowerCase();
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(bare) === 6) return { ok: true, value: `[${bare}]` };
  if (isIP(bare) === 4 || DNS_NAME.test(name)) return { ok: true, value: name };
  return { ok: false, message: `expected a host name or IP address without a port (team.example.com, 10.0.0.5), got ${JSON.stringify(text)}` };
}
