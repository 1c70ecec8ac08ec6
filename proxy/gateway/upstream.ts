/**
 * Where a request goes upstream and with which credentials. The client's gateway token is removed
 * and the real upstream key (held only in memory) is put in its place.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { UpstreamName } from '../dialects/types';
import { connectionListed, isHopByHop } from './hopByHop';

export interface UpstreamEndpoints {
  openai: { baseUrl: string };
  anthropic: { baseUrl: string };
}

/** Upstream API keys, from the environment or handed over by the editor; never persisted or logged. */
export class UpstreamKeys {
  private readonly keys = new Map<UpstreamName, string>();

  static fromEnv(env: NodeJS.ProcessEnv): UpstreamKeys {
    const keys = new UpstreamKeys();
    if (env.OPENAI_API_KEY) keys.set('openai', env.OPENAI_API_KEY);
    if (env.ANTHROPIC_API_KEY) keys.set('anthropic', env.ANTHROPIC_API_KEY);
    return keys;
  }

  private readonly rejectedListeners: ((upstream: UpstreamName) => void)[] = [];

  set(upstream: UpstreamName, key: string | null): void {
    if (key) this.keys.set(upstream, key);
    else this.keys.delete(upstream);
  }

  /** The upstream refused its key: whoever can ask the user for a new one is told (the editor). */
  reportRejected(upstream: UpstreamName): void {
    for (const listener of this.rejectedListeners) listener(upstream);
  }

  onRejected(listener: (upstream: UpstreamName) => void): void {
    this.rejectedListeners.push(listener);
  }

  get(upstream: UpstreamName): string | undefined {
    return this.keys.get(upstream);
  }

  has(upstream: UpstreamName): boolean {
    return this.keys.has(upstream);
  }

  /** Keeps the key out of `console.log(keys)` and JSON dumps. */
  toJSON(): Record<string, string> {
    return Object.fromEntries([...this.keys.keys()].map((name) => [name, '<redacted>']));
  }
}

/** An upstream base URL, parsed once at start, in the shape http-proxy expects of a target (Node's client takes the same fields). */
interface ProxyTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  /** The base URL's path (`/v1` for OpenAI); http-proxy joins the request's path onto it. */
  path: string;
}

/**
 * Where each upstream lives and the keep-alive agents that reach it. The OpenAI base URL already
 * ends in `/v1`, so the gateway's own `/v1` prefix is dropped from the request path; the Anthropic
 * base URL is a bare origin and takes the path as it is.
 */
export class Upstreams {
  private readonly targets: Record<UpstreamName, ProxyTarget>;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  constructor(endpoints: UpstreamEndpoints) {
    this.targets = { openai: parseTarget(endpoints.openai.baseUrl), anthropic: parseTarget(endpoints.anthropic.baseUrl) };
  }

  /** http-proxy options that send `pathAndQuery` (a gateway path) to `upstream`. */
  proxyOptions(upstream: UpstreamName, pathAndQuery: string): { target: ProxyTarget; agent: http.Agent; ignorePath: true } {
    const target = this.targets[upstream];
    const path = upstream === 'openai' ? pathAndQuery.replace(/^\/v1(?=\/|\?|$)/, '') : pathAndQuery;
    return {
      target: { ...target, path: joinPath(target.path, path) },
      agent: target.protocol === 'https:' ? this.agents.https : this.agents.http,
      ignorePath: true,
    };
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function parseTarget(baseUrl: string): ProxyTarget {
  const url = new URL(baseUrl);
  return { protocol: url.protocol, host: url.host, hostname: url.hostname, port: url.port, path: url.pathname.replace(/\/+$/, '') };
}

function joinPath(base: string, path: string): string {
  if (path === '' || path.startsWith('?')) return `${base || '/'}${path}`;
  return base + path;
}

/**
 * The client's headers as the upstream gets them: credentials swapped, the length fixed. Built as a
 * new object (callers assign it to `req.headers`, which http-proxy copies) rather than by `delete`
 * on the client's object, which would turn it into a slow dictionary-mode object on every request.
 * Header order is the same as rewriting in place would give.
 */
export function upstreamHeaders(
  headers: IncomingHttpHeaders,
  upstream: UpstreamName,
  key: string | undefined,
  contentLength: number | null,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  // Metering reads the body; an identity body saves the gateway a decompression. Upstreams that
  // compress anyway are still handled (see meteredExchange).
  let acceptEncodingSet = false;
  let lengthSet = contentLength === null;
  const listed = connectionListed(headers);
  for (const name in headers) {
    if (name === 'authorization' || name === 'x-api-key') continue;
    // The body is re-sent with a content-length; the framing of the client's connection stays behind.
    if (isHopByHop(name, listed)) continue;
    if (name === 'accept-encoding') {
      out[name] = 'identity';
      acceptEncodingSet = true;
    } else if (contentLength !== null && name === 'content-length') {
      out[name] = String(contentLength);
      lengthSet = true;
    } else {
      out[name] = headers[name];
    }
  }
  if (key !== undefined) {
    if (upstream === 'openai') out.authorization = `Bearer ${key}`;
    else out['x-api-key'] = key;
  }
  if (!acceptEncodingSet) out['accept-encoding'] = 'identity';
  if (!lengthSet) out['content-length'] = String(contentLength);
  return out;
}
