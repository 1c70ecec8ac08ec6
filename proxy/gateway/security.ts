/**
 * The gateway's front door (docs/product.md §2 Auth, §8 Beyond loopback): allowed Host names only (DNS
 * rebinding), no CORS, and a gateway token in `Authorization: Bearer` or `x-api-key`.
 */
import type { IncomingMessage } from 'node:http';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The Host names the gateway answers to: the loopback ones, plus those a team gateway was told to
 * accept (`--allowed-host`). Any other name is a web page's DNS-rebinding attempt or a mistake.
 */
export class HostAllowList {
  private readonly names: ReadonlySet<string>;
  /** A client sends the same Host on every request: the last one found good is checked by identity. */
  private lastAllowed: string | undefined;

  /** `extraNames` as parseHostName normalises them: lower case, IPv6 in brackets, no port. */
  constructor(extraNames: readonly string[] = []) {
    this.names = new Set([...LOOPBACK_HOSTS, ...extraNames]);
  }

  /** True when the Host header names an allowed host (with any port), or is absent (HTTP/1.0). */
  allows(host: string | undefined): boolean {
    if (host === undefined || host === this.lastAllowed) return true;
    const nameEnd = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
    const name = (nameEnd > 0 ? host.slice(0, nameEnd) : host).toLowerCase();
    if (!this.names.has(name)) return false;
    this.lastAllowed = host;
    return true;
  }

  /** For the refusal: which names would be answered. */
  describe(): string {
    const names = [...this.names];
    return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  }
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
