/**
 * Where a request goes upstream and with which credentials. The client's gateway token is removed
 * and the real upstream key (held only in memory) is put in its place.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { UpstreamName } from '../dialects/types';

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

  set(upstream: UpstreamName, key: string | null): void {
    if (key) this.keys.set(upstream, key);
    else this.keys.delete(upstream);
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

/**
 * The full upstream URL for a gateway path. The OpenAI base URL already ends in `/v1`, so the
 * gateway's `/v1` prefix is dropped; the Anthropic base URL is a bare origin.
 */
export function upstreamUrl(endpoints: UpstreamEndpoints, upstream: UpstreamName, pathAndQuery: string): string {
  if (upstream === 'openai') return endpoints.openai.baseUrl + pathAndQuery.replace(/^\/v1(?=\/|\?|$)/, '');
  return endpoints.anthropic.baseUrl + pathAndQuery;
}

/** Rewrites the client's headers in place for the upstream: swaps credentials, fixes the length. */
export function prepareUpstreamHeaders(
  headers: IncomingHttpHeaders,
  upstream: UpstreamName,
  key: string | undefined,
  contentLength: number | null,
): void {
  delete headers.authorization;
  delete headers['x-api-key'];
  if (key !== undefined) {
    if (upstream === 'openai') headers.authorization = `Bearer ${key}`;
    else headers['x-api-key'] = key;
  }
  // Metering reads the body; an identity body saves the gateway a decompression. Upstreams that
  // compress anyway are still handled (see meteredExchange).
  headers['accept-encoding'] = 'identity';
  if (contentLength !== null) {
    headers['content-length'] = String(contentLength);
    delete headers['transfer-encoding'];
  }
}
