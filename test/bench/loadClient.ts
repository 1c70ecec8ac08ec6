/**
 * A small closed-loop HTTP load generator for the benchmark: C connections, each sending its next
 * request as soon as the previous one has been read to the end. Records latency and time to first
 * body byte per successful request, and counts everything that went wrong (status, missing header,
 * truncated body, socket error, timeout) so a broken path cannot pass for a fast one. Bounded by
 * request count and by time.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  requests: number;
  maxMs: number;
  /** A response counts as good only if it carries this header (e.g. the gateway's request id). */
  requireHeader?: string;
  /**
   * A response counts as good only if its body's end matches (e.g. /data: \[DONE\]\n\n$/), tested
   * against the last TAIL_BYTES of the body as text.
   */
  requireBodyEnd?: RegExp;
  /** Per-request bound; a request still open after it is destroyed and counted as an error. */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Successful requests only. */
  latenciesMs: number[];
  /** Time to the first body byte, successful requests only. */
  ttfbMs: number[];
  elapsedMs: number;
  /** Every request that did not complete as a good 200. */
  errors: number;
  /** Status code → count, over all responses received (a socket error without a response is not here). */
  statuses: Record<number, number>;
  missingHeader: number;
  badBody: number;
  socketErrors: number;
}

type Outcome = 'ok' | 'status' | 'header' | 'body' | 'socket';

/** How much of a body's end requireBodyEnd sees: room for a Responses stream's final event. */
export const TAIL_BYTES = 16_384;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL(spec.url);
  const body = Buffer.from(spec.body);
  const bodyEnd = spec.requireBodyEnd ?? null;
  const requireHeader = spec.requireHeader?.toLowerCase();
  // Built once: the client shares the machine with the servers it measures, so it stays lean.
  const options: http.RequestOptions = {
    agent,
    host: target.hostname,
    port: target.port,
    path: target.pathname + target.search,
    method: 'POST',
    headers: { ...spec.headers, 'content-type': 'application/json', 'content-length': String(body.length) },
    timeout: spec.timeoutMs ?? 30_000,
  };
  const result: LoadResult = {
    latenciesMs: [],
    ttfbMs: [],
    elapsedMs: 0,
    errors: 0,
    statuses: {},
    missingHeader: 0,
    badBody: 0,
    socketErrors: 0,
  };
  let issued = 0;
  const started = performance.now();
  const deadline = started + spec.maxMs;

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let first = 0;
      let done = false;
      const finish = (outcome: Outcome, t1: number): void => {
        if (done) return;
        done = true;
        if (outcome === 'ok') {
          result.latenciesMs.push(t1 - t0);
          result.ttfbMs.push((first || t1) - t0);
        } else {
          result.errors++;
          if (outcome === 'header') result.missingHeader++;
          else if (outcome === 'body') result.badBody++;
          else if (outcome === 'socket') result.socketErrors++;
        }
        resolve();
      };
      const req = http.request(options, (res) => {
        const status = res.statusCode ?? 0;
        result.statuses[status] = (result.statuses[status] ?? 0) + 1;
        const tail = bodyEnd ? new BodyTail() : null;
        res.on('data', (chunk: Buffer) => {
          if (first === 0) first = performance.now();
          tail?.push(chunk);
        });
        res.on('end', () => {
          const t1 = performance.now();
          if (status !== 200) return finish('status', t1);
          if (requireHeader !== undefined && res.headers[requireHeader] === undefined) return finish('header', t1);
          if (bodyEnd && tail && !bodyEnd.test(tail.text())) return finish('body', t1);
          finish('ok', t1);
        });
        // A response cut before its end: 'close' without 'end' (or an 'error'); after 'end' these are no-ops.
        res.on('error', () => finish('socket', performance.now()));
        res.on('close', () => finish('socket', performance.now()));
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', () => finish('socket', performance.now()));
      req.end(body);
    });

  const worker = async (): Promise<void> => {
    while (issued < spec.requests && performance.now() < deadline) {
      issued++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  result.elapsedMs = performance.now() - started;
  agent.destroy();
  return result;
}

/** The last TAIL_BYTES of a body, kept as the chunks that hold them: nothing is copied until the end. */
class BodyTail {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0]!.length >= TAIL_BYTES) this.bytes -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('utf8');
  }
}

/** Nearest-rank percentile (p in 0–100); null for no values. Sorts a copy. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
