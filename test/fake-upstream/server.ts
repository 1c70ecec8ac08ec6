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
import {
  completionsBody,
  completionsChunks,
  imageEvents,
  imagesBody,
  moderationsBody,
  speechAudio,
  speechEvents,
  transcriptionAnswer,
  transcriptionEvents,
  type TranscriptionRequest,
} from './units';
import { FILL_MARKER, sizedBody } from './sizedBody';
import { drained } from '../../proxy/gateway/backPressure';

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

    const form = await parseForm(raw, req.headers['content-type']);
    const json = form ?? parseJson(raw);
    const stream = json?.stream === true || json?.stream === 'true';
    if (behavior.bodyBytes !== null && (stream || behavior.compression !== null)) {
      return sendText(res, 400, 'x-fake-behavior bytes= is for plain non-streaming answers (no stream, gzip or br)');
    }
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
    if (req.method === 'POST' && path === '/v1/completions') {
      const t = turn('gpt-3.5-turbo-instruct');
      const includeUsage = (json?.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      return stream ? sendStream(res, completionsChunks(t, includeUsage), behavior) : sendJson(res, 200, completionsBody(t), behavior);
    }
    const imageRoute = /^\/v1\/images\/(generations|edits|variations)$/.exec(path);
    if (req.method === 'POST' && imageRoute) {
      const t = turn('dall-e-2');
      if (stream) return sendStream(res, imageEvents(t, imageRoute[1] === 'edits'), behavior);
      return sendJson(res, 200, imagesBody(t, Number(json?.n ?? 1)), behavior);
    }
    if (req.method === 'POST' && path === '/v1/audio/speech') {
      const t = turn('tts-1');
      const input = typeof json?.input === 'string' ? json.input : '';
      if (json?.stream_format === 'sse') return sendStream(res, speechEvents(t, input), behavior);
      return sendBytes(res, speechAudio(input), 'audio/mpeg', behavior);
    }
    if (req.method === 'POST' && (path === '/v1/audio/transcriptions' || path === '/v1/audio/translations')) {
      const file = form?.file;
      if (!isUpload(file)) return sendJson(res, 400, openAiErrorBody(400), behavior);
      const t = turn('whisper-1');
      const secondsHeader = req.headers['x-fake-audio-seconds'];
      const request: TranscriptionRequest = {
        model: t.model,
        responseFormat: typeof json?.response_format === 'string' ? json.response_format : 'json',
        // The recording's length: `x-fake-audio-seconds`, else the upload read as 128 kbit/s.
        seconds: typeof secondsHeader === 'string' ? Number(secondsHeader) : file.size / 16_000,
      };
      if (stream) return sendStream(res, transcriptionEvents(t, request), behavior);
      const answer = transcriptionAnswer(t, request);
      return 'json' in answer ? sendJson(res, 200, answer.json, behavior) : sendBytes(res, Buffer.from(answer.text), 'text/plain; charset=utf-8', behavior);
    }
    if (req.method === 'POST' && path === '/v1/moderations') {
      const inputs = Array.isArray(json?.input) ? json.input.length : 1;
      return sendJson(res, 200, moderationsBody(turn('omni-moderation-latest'), inputs), behavior);
    }
    // Routes that cost nothing: a stored response, token counts.
    if (req.method === 'GET' && /^\/v1\/responses\/[^/]+$/.test(path)) {
      return sendJson(res, 200, responseObject(turn('gpt-5'), true), behavior);
    }
    if (req.method === 'POST' && (path === '/v1/responses/input_tokens' || path === '/v1/messages/count_tokens')) {
      const inputTokens = Math.ceil(raw.length / 4);
      return sendJson(res, 200, path.startsWith('/v1/messages') ? { input_tokens: inputTokens } : { object: 'response.input_tokens', input_tokens: inputTokens }, behavior);
    }
    // Routes the gateway must never let through (they would run unmetered): answered as the vendors do,
    // so a test sees success if one ever got here; `requests` records the visit.
    if (req.method === 'POST' && (path === '/v1/batches' || path === '/v1/messages/batches')) {
      return sendJson(res, 200, { id: `batch_${++turnCounter}`, object: 'batch', status: 'validating' }, behavior);
    }
    if (req.method === 'POST' && path.startsWith('/v1/realtime/')) {
      return sendJson(res, 200, { value: `ek_fake_${++turnCounter}`, expires_at: Math.floor(Date.now() / 1000) + 60 }, behavior);
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
    // A sized body (bytes=N) gets its text from sizedBody, in place of the marker.
    text: behavior.bodyBytes === null ? pieces.join('') : FILL_MARKER,
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

function sendJson(res: ServerResponse, status: number, body: unknown, behavior: FakeBehavior): Promise<void> | undefined {
  const json = JSON.stringify(body);
  if (behavior.bodyBytes !== null && json.includes(FILL_MARKER)) return sendSizedJson(res, status, json, behavior.bodyBytes, behavior);
  const text = Buffer.from(json);
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

/** A body padded to `bytes` (bytes=N), written chunk by chunk as the client reads it; cut halfway when asked. */
async function sendSizedJson(res: ServerResponse, status: number, json: string, bytes: number, behavior: FakeBehavior): Promise<void> {
  const body = sizedBody(json, bytes);
  res.writeHead(status, { ...baseHeaders(behavior, 'application/json'), 'content-length': String(body.length) });
  const cut = behavior.cutAfterEvents !== null;
  let left = cut ? body.length >> 1 : body.length;
  for (const chunk of body.chunks()) {
    if (res.destroyed) return; // the client went away
    const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= part.length;
    if (cut && left === 0) return void res.write(part, () => res.socket?.destroy());
    if (!res.write(part)) await drained(res);
  }
  res.end();
}


/** Writes the events one write each (as upstreams flush them), paced and cut as the behavior says. */
async function sendStream(res: ServerResponse, events: string[], behavior: FakeBehavior): Promise<void> {
  res.writeHead(200, { ...baseHeaders(behavior, 'text/event-stream; charset=utf-8'), 'cache-control': 'no-cache' });
  const out = new StreamOut(res, behavior.compression, behavior.cutAfterEvents !== null);
  const count = behavior.cutAfterEvents === null ? events.length : Math.min(behavior.cutAfterEvents, events.length);
  for (let i = 0; i < count; i++) {
    if (i > 0 && behavior.eventIntervalMs > 0) await sleep(behavior.eventIntervalMs);
    if (res.destroyed) return; // the client went away
    if (i === behavior.stallAfterEvents) return void res.flushHeaders(); // silent from here on; close() still ends it
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

function sendBytes(res: ServerResponse, bytes: Buffer, contentType: string, behavior: FakeBehavior): void {
  const payload = behavior.compression === 'gzip' ? gzipSync(bytes) : behavior.compression === 'br' ? brotliCompressSync(bytes) : bytes;
  res.writeHead(200, { ...baseHeaders(behavior, contentType), 'content-length': String(payload.length) });
  res.end(payload);
}

/** An uploaded file of a multipart form, as `parseForm` gives it. */
interface FormUpload {
  size: number;
  name: string;
}

function isUpload(value: unknown): value is FormUpload {
  return typeof value === 'object' && value !== null && typeof (value as FormUpload).size === 'number';
}

/** A multipart/form-data body's fields (files as their size and name), read with the platform's own parser. */
async function parseForm(raw: Buffer, contentType: string | undefined): Promise<Record<string, unknown> | undefined> {
  if (!contentType?.startsWith('multipart/form-data')) return undefined;
  const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, unknown> = {};
  form.forEach((value, name) => {
    fields[name] = typeof value === 'string' ? value : { size: value.size, name: value.name };
  });
  if (typeof fields.n === 'string') fields.n = Number(fields.n);
  return fields;
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
