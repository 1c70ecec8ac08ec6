/**
 * Red team: responses that used to escape billing or blow up the gateway's memory.
 * - a client that hangs up before a non-streaming answer paid for its input only;
 * - a 200 MB body was buffered whole (and past ~512 MB its usage was lost);
 * - a gzip body was decoded synchronously in one piece;
 * - one endless SSE line was held in memory.
 * Each test talks to its own upstream server, which answers the way the attack needs.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/testGateway';

const USAGE = { prompt_tokens: 1_000, completion_tokens: 50_000, total_tokens: 51_000 };

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function startUpstream(answer: Answer): Promise<{ url: string; close(): Promise<void>; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a chat completion whose content is `bytes` long, in 64 KiB pieces, honouring back-pressure. */
function writeHugeCompletion(res: http.ServerResponse | zlib.Gzip, bytes: number, done: () => void): void {
  const piece = Buffer.alloc(64 * 1024, 'a');
  let left = bytes;
  res.write('{"id":"chatcmpl-big","object":"chat.completion","model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"');
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, piece.length);
      left -= n;
      if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(`"},"finish_reason":"stop"}],"usage":${JSON.stringify(USAGE)}}`);
    done();
  };
  pump();
}

/** Sends a chat request and reads the answer without keeping it; resolves with its size. */
function postAndCount(gw: TestGateway, body: unknown): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...gw.auth, 'content-type': 'application/json' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Runs `work` while sampling this process's RSS; returns its answer and the peak growth in bytes. */
async function measuringMemory<T>(work: () => Promise<T>): Promise<{ answer: T; peak: number }> {
  let peak = 0;
  const base = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 5);
  try {
    return { answer: await work(), peak };
  } finally {
    clearInterval(sampler);
  }
}

const CHAT = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello' }] };

function lastUsage(gw: TestGateway) {
  return gw.ledger.usageRows({ limit: 1 })[0];
}

let gw: TestGateway | null = null;
let upstream: Awaited<ReturnType<typeof startUpstream>> | null = null;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = null;
  upstream = null;
});

describe('red team: responses', () => {
  it('bills the usage the upstream reports when the client hangs up before a non-streaming answer', async () => {
    upstream = await startUpstream((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c', object: 'chat.completion', choices: [], usage: USAGE }));
      }, 400);
    });
    gw = await startTestGateway({ openaiBaseUrl: upstream.url });
    const gateway = gw;
    await new Promise<void>((resolve) => {
      const req = http.request(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { ...gateway.auth, 'content-type': 'application/json' } });
      req.on('error', () => resolve());
      req.end(JSON.stringify(CHAT));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await eventually(() => {
      const row = lastUsage(gateway);
      expect(row).toBeDefined();
      expect(row!.outputTokens).toBe(USAGE.completion_tokens);
      expect(row!.inputTokens).toBe(USAGE.prompt_tokens);
      expect(row!.estimated).toBe(false);
    }, 5_000);
    expect(gateway.ledger.status().credits.held).toBe(0);
  });

  it('meters a 200 MB non-streaming body exactly, without holding it in memory', async () => {
    const size = 200 * 1024 * 1024;
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      writeHugeCompletion(res, size, () => undefined);
    });
    gw = await startTestGateway({ openaiBaseUrl: upstream.url });
    const { answer, peak } = await measuringMemory(() => postAndCount(gw!, CHAT));
    expect(answer.status).toBe(200);
    expect(answer.bytes).toBeGreaterThan(size);
    const gateway = gw;
    await eventually(() => expect(lastUsage(gateway)?.outputTokens).toBe(USAGE.completion_tokens));
    expect(lastUsage(gateway)!.estimated).toBe(false);
    // Client, gateway and upstream share this process: all three together stay far below the body's size.
    expect(peak).toBeLessThan(100 * 1024 * 1024);
  });

  it('decodes a large gzip body as a stream and bills its usage', async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      const gzip = zlib.createGzip();
      gzip.pipe(res);
      writeHugeCompletion(gzip, 300 * 1024 * 1024, () => undefined);
    });
    gw = await startTestGateway({ openaiBaseUrl: upstream.url });
    const { answer, peak } = await measuringMemory(() => postAndCount(gw!, CHAT));
    expect(answer.status).toBe(200);
    const gateway = gw;
    await eventually(() => expect(lastUsage(gateway)?.outputTokens).toBe(USAGE.completion_tokens));
    expect(peak).toBeLessThan(100 * 1024 * 1024);
  });

  it('ends a stream whose event grows past the limit, bills what was seen, and keeps serving', async () => {
    upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n');
      // One line that never ends: 40 MiB and counting.
      const piece = Buffer.alloc(1024 * 1024, 'b');
      let sent = 0;
      const pump = (): void => {
        while (sent < 40 && !res.destroyed) {
          sent++;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.write('data: {"pad":"');
      pump();
      req.socket.on('close', () => res.destroy());
    });
    gw = await startTestGateway({ openaiBaseUrl: upstream.url });
    const answer = await postAndCount(gw, { ...CHAT, stream: true });
    expect(answer.status).toBe(200);
    expect(answer.bytes).toBeLessThan(30 * 1024 * 1024);
    const gateway = gw;
    await eventually(() => {
      const row = lastUsage(gateway);
      expect(row?.estimated).toBe(true);
      expect(row?.reason).toBe('upstream_cut');
    });
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
