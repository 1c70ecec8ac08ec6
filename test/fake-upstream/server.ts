/**
 * A real HTTP server that answers like OpenAI and Anthropic do, for the gateway's tests and as the
 * benchmark's upstream: cheap per request (events are rendered once, then written), keep-alive on.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync, type Gzip, type BrotliCompress } from 'node:zlib';
import { DEFAULT_BEHAVIOR, answerPieces, defaultUsage, parseBehaviorHeader, type FakeBehavior, type FakeUsage } from './behavior';
import { anthropicErrorBody, messagesBody, messagesEvents } from './anthropic';
import { chatBody, chatChunks, embeddingsBody, modelsBody, openAiErrorBody, responseObject, responsesEvents } from './openai';
import type { FakeTurn } from './turn';

export interface RecordedRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  /** As Node parsed them (lower-case names): authorization / x-api-key included, to assert what arrived. */
  headers: IncomingHttpHeaders;
  /** The raw request body, decoded as UTF-8. */
  body: string;
}

export interface FakeUpstreamOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Initial global behavior (see behavior.ts); per-request `x-fake-behavior` overrides it. */
  behavior?: Partial<FakeBehavior>;
}

export interface FakeUpstream {
  /** `http://127.0.0.1:PORT`, without a trailing slash or /v1. */
  url: string;
  port: number;
  /** Every request received, in arrival order (cleared by nobody: slice or reset `length` yourself). */
  requests: RecordedRequest[];
  /** Merges into the global behavior; null restores the defaults. */
  setBehavior(behavior: Partial<FakeBehavior> | null): void;
  close(): Promise<void>;
}

type Vendor = 'openai' | 'anthropic';

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  let globalBehavior: FakeBehavior = { ...DEFAULT_BEHAVIOR, ...options.behavior };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let turnCounter = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw.toString('utf8') });

    const path = (req.url ?? '/').split('?', 1)[0]!;
    const vendor: Vendor = path.startsWith('/v1/messages') ? 'anthropic' : 'openai';
    let behavior: FakeBehavior;
    try {
      const header = req.headers['x-fake-behavior'];
      behavior = typeof header === 'string' ? { ...globalBehavior, ...parseBehaviorHeader(header) } : globalBehavior;
    } catch (error) {
      return sendText(res, 400, `bad x-fake-behavior: ${String(error)}`);
    }

    if (behavior.resetBeforeResponse) return void req.socket.destroy();
    if (behavior.hang) return; // close() destroys the socket
    if (behavior.firstByteDelayMs > 0) await sleep(behavior.firstByteDelayMs);
    if (req.method === 'HEAD' && path === '/') return void res.writeHead(200).end(); // Claude Code's probe
    if (behavior.status !== null) return sendJson(res, behavior.status, errorBody(vendor, behavior.status), behavior);

    const json = parseJson(raw);
    const stream = json?.stream === true;
    const turn = (fallbackModel: string): FakeTurn => makeTurn(req, raw.length, json, fallbackModel, behavior, ++turnCounter);

    if (req.method === 'POST' && path === '/v1/responses') {
      const t = turn('gpt-5-codex');
      return stream ? sendStream(res, responsesEvents(t), behavior) : sendJson(res, 200, responseObject(t, true), behavior);
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const t = turn('gpt-4o-mini');
      const includeUsage = (json?.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      return stream ? sendStream(res, chatChunks(t, includeUsage), behavior) : sendJson(res, 200, chatBody(t), behavior);
    }
    if (req.method === 'POST' && path === '/v1/messages') {
      const t = turn('claude-sonnet-4-5');
      return stream ? sendStream(res, messagesEvents(t), behavior) : sendJson(res, 200, messagesBody(t), behavior);
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      const inputs = Array.isArray(json?.input) ? json.input.length : 1;
      return sendJson(res, 200, embeddingsBody(turn('text-embedding-3-small'), inputs), behavior);
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, modelsBody(Math.floor(Date.now() / 1000)), behavior);
    }
    return sendJson(res, 404, errorBody(vendor, 404), behavior);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setBehavior(behavior) {
      globalBehavior = behavior === null ? { ...DEFAULT_BEHAVIOR } : { ...globalBehavior, ...behavior };
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function makeTurn(
  req: IncomingMessage,
  bodyBytes: number,
  json: Record<string, unknown> | undefined,
  fallbackModel: string,
  behavior: FakeBehavior,
  counter: number,
): FakeTurn {
  const pieces = answerPieces(headerText(req.headers['x-fake-text']), behavior.deltas);
  const usageHeader = req.headers['x-fake-usage'];
  const usage: FakeUsage = {
    ...defaultUsage(bodyBytes, pieces.length),
    ...(typeof usageHeader === 'string' ? (JSON.parse(usageHeader) as Partial<FakeUsage>) : {}),
  };
  return {
    id: `fake${String(counter).padStart(6, '0')}`,
    model: typeof json?.model === 'string' ? json.model : fallbackModel,
    created: Math.floor(Date.now() / 1000),
    pieces,
    text: pieces.join(''),
    usage: behavior.omitUsage ? null : usage,
    terminal: behavior.terminal,
  };
}

/** Header values are Latin-1 on the wire; percent-encoding lets a test send any UTF-8 answer. */
function headerText(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function errorBody(vendor: Vendor, status: number): unknown {
  return vendor === 'anthropic' ? anthropicErrorBody(status) : openAiErrorBody(status);
}

function baseHeaders(behavior: FakeBehavior, contentType: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': contentType, 'x-request-id': `req_fake_${Date.now()}` };
  if (behavior.compression) headers['content-encoding'] = behavior.compression;
  if (behavior.codexHeaders) {
    headers['x-codex-primary-used-percent'] = '99';
    headers['x-codex-primary-window-minutes'] = '300';
    headers['x-codex-primary-reset-at'] = '1';
    headers['x-codex-credits-has-credits'] = 'false';
  }
  return headers;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown, behavior: FakeBehavior): void {
  const text = Buffer.from(JSON.stringify(body));
  const payload =
    behavior.compression === 'gzip' ? gzipSync(text) : behavior.compression === 'br' ? brotliCompressSync(text) : text;
  res.writeHead(status, { ...baseHeaders(behavior, 'application/json'), 'content-length': String(payload.length) });
  if (behavior.cutAfterEvents !== null) {
    // A body cut halfway: half the bytes, then the socket goes.
    res.write(payload.subarray(0, payload.length >> 1), () => res.socket?.destroy());
    return;
  }
  res.end(payload);
}

/** Writes the events one write each (as upstreams flush them), paced and cut as the behavior says. */
async function sendStream(res: ServerResponse, events: string[], behavior: FakeBehavior): Promise<void> {
  res.writeHead(200, { ...baseHeaders(behavior, 'text/event-stream; charset=utf-8'), 'cache-control': 'no-cache' });
  const out = new StreamOut(res, behavior.compression, behavior.cutAfterEvents !== null);
  const count = behavior.cutAfterEvents === null ? events.length : Math.min(behavior.cutAfterEvents, events.length);
  for (let i = 0; i < count; i++) {
    if (i > 0 && behavior.eventIntervalMs > 0) await sleep(behavior.eventIntervalMs);
    if (res.destroyed) return; // the client went away
    out.write(events[i]!);
  }
  if (behavior.cutAfterEvents === null) return out.end();
  if (count === 0) res.flushHeaders();
  await out.flushed();
  res.socket?.destroy();
}

/** The response body, optionally compressed with a flush per event so streaming stays streaming. */
class StreamOut {
  private readonly compressor: Gzip | BrotliCompress | null;
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly res: ServerResponse,
    compression: FakeBehavior['compression'],
    /** Only a deliberate cut needs to know when bytes reached the socket; the hot path skips the promises. */
    private readonly trackWrites: boolean,
  ) {
    this.compressor =
      compression === 'gzip'
        ? createGzip({ flush: constants.Z_SYNC_FLUSH })
        : compression === 'br'
          ? createBrotliCompress({ flush: constants.BROTLI_OPERATION_FLUSH })
          : null;
    this.compressor?.on('data', (bytes: Buffer) => this.rawWrite(bytes));
    this.compressor?.on('end', () => res.end());
  }

  write(text: string): void {
    if (this.compressor) this.compressor.write(text);
    else this.rawWrite(text);
  }

  end(): void {
    if (this.compressor) this.compressor.end();
    else this.res.end();
  }

  /** Resolves once everything written so far has reached the socket (before a deliberate cut). */
  async flushed(): Promise<void> {
    const { compressor } = this;
    if (compressor) await new Promise<void>((resolve) => compressor.flush(() => resolve()));
    await this.lastWrite;
  }

  private rawWrite(bytes: string | Buffer): void {
    if (!this.trackWrites) return void this.res.write(bytes);
    this.lastWrite = new Promise((resolve) => this.res.write(bytes, () => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(raw: Buffer): Record<string, unknown> | undefined {
  if (raw.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
