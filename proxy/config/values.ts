/** Value parsers shared by the config file schema and the environment overrides. */

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
