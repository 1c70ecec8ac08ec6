/**
 * A raw HTTP client for tests: it keeps whatever bytes arrived before a reset (fetch throws them
 * away) and does not decompress, so a test sees exactly what was on the wire.
 */
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** False when the connection broke before the response ended (a cut or reset). */
  complete: boolean;
}

export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'POST', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const settle = (complete: boolean): void =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete });
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => settle(true));
      res.on('error', () => settle(false));
      res.on('aborted', () => settle(false));
    });
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}
