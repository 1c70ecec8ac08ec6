/**
 * A small closed-loop HTTP load generator for the benchmark: C connections, each sending its next
 * request as soon as the previous one has been read to the end. Records latency and time to first
 * byte per request. Bounded by request count and by time.
 */
import http from 'node:http';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  requests: number;
  maxMs: number;
}

export interface LoadResult {
  latenciesMs: number[];
  ttfbMs: number[];
  elapsedMs: number;
  errors: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL(spec.url);
  const body = Buffer.from(spec.body);
  const latenciesMs: number[] = [];
  const ttfbMs: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + spec.maxMs;

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let first = 0;
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'POST',
          headers: { ...spec.headers, 'content-type': 'application/json', 'content-length': String(body.length) },
        },
        (res) => {
          res.on('data', () => {
            if (first === 0) first = performance.now();
          });
          res.on('end', () => {
            const t1 = performance.now();
            if (res.statusCode === 200) {
              latenciesMs.push(t1 - t0);
              ttfbMs.push((first || t1) - t0);
            } else errors++;
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });

  const worker = async (): Promise<void> => {
    while (issued < spec.requests && performance.now() < deadline) {
      issued++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { latenciesMs, ttfbMs, elapsedMs, errors };
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
