/**
 * What one client may cost the gateway: slow headers and slow bodies are cut at their deadlines
 * while other clients are served, idle connections are closed, connections over the cap get a 503 at
 * once, an upstream that goes silent ends its answer (billed from what was seen), stalled /events
 * readers cost at most one status each, and /creditgate/v1/usage answers a page at a time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { emptyUsage } from '../shared/usage';
import { rawRequest } from './fake-upstream';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './helpers/testGateway';

let gw: TestGateway | null = null;
afterEach(async () => {
  await gw?.close();
  gw = null;
});

async function gateway(options: TestGatewayOptions): Promise<TestGateway> {
  gw = await startTestGateway({ plan: 'pro', ...options });
  return gw;
}

const json = (value: unknown): string => JSON.stringify(value);
const chatStream = json({ model: 'gpt-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
const chat = (g: TestGateway, behavior = '', body = chatStream) =>
  rawRequest(`${g.url}/v1/chat/completions`, { headers: { ...g.auth, 'content-type': 'application/json', 'x-fake-behavior': behavior }, body });
const held = (g: TestGateway): number => g.ledger.status().credits.held + g.ledger.status().windows.reduce((sum, w) => sum + w.held, 0);
const rowCount = (g: TestGateway): number => g.ledger.usageRows({}).length;

/** A raw connection: what the gateway sent on it, and how long after opening it was closed. */
interface RawConnection {
  socket: net.Socket;
  received: () => string;
  closedAfterMs: Promise<number>;
}

function connect(url: string): Promise<RawConnection> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const opened = Date.now();
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    const closedAfterMs = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
    socket.once('connect', () => resolve({ socket, received: () => received, closedAfterMs }));
    socket.once('error', reject);
  });
}

/** Writes `next(i)` every `everyMs` until the connection closes. */
function trickle(connection: RawConnection, everyMs: number, next: (i: number) => string): void {
  let i = 0;
  const timer = setInterval(() => {
    if (connection.socket.writable) connection.socket.write(next(i++));
  }, everyMs);
  connection.socket.once('close', () => clearInterval(timer));
}

describe('request deadlines and idle connections', () => {
  const limits = { requestHeadersTimeoutMs: 300, requestBodyTimeoutMs: 600, keepAliveTimeoutMs: 300 };

  it('cuts a client sending its headers too slowly and one sending its body too slowly, while serving a normal client', async () => {
    const g = await gateway({ connections: limits });
    const rows = rowCount(g);
    const slowHeaders = await connect(g.url);
    slowHeaders.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    trickle(slowHeaders, 100, (i) => `x-pad-${i}: a\r\n`);
    const slowBody = await connect(g.url);
    slowBody.socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${g.auth.authorization}\r\n` +
        'content-type: application/json\r\ncontent-length: 4000\r\n\r\n{"model":"gpt-5","messages":[',
    );
    trickle(slowBody, 100, () => ' '.repeat(10));

    const normal = await chat(g, 'deltas=4');
    expect(normal.status).toBe(200);

    // Each is cut at its deadline plus at most a quarter of it (Node checks deadlines on an interval).
    expect(await slowHeaders.closedAfterMs).toBeLessThan(1_500);
    expect(await slowBody.closedAfterMs).toBeLessThan(1_800);
    expect(slowHeaders.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(slowBody.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(slowBody.received().split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'request_timeout' } });
    // The slow body never became a request: nothing was held or charged for it.
    expect(rowCount(g)).toBe(rows + 1);
    expect(held(g)).toBe(0);
  });

  it('does not bound the response: a stream may last longer than the request deadlines', async () => {
    const g = await gateway({ connections: limits });
    const res = await chat(g, 'deltas=10,interval=150');
    expect(res).toMatchObject({ status: 200, complete: true });
    expect(res.body.toString()).toContain('data: [DONE]');
  });

  it('closes a connection that never sends a request, and a kept-alive one idle after its response', async () => {
    const g = await gateway({ connections: limits });
    const silent = await connect(g.url);
    const keptAlive = await connect(g.url);
    keptAlive.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(await silent.closedAfterMs).toBeLessThan(1_500);
    // Node adds a second to the keep-alive timeout it announces; its default would be 5 s (plus one).
    expect(await keptAlive.closedAfterMs).toBeLessThan(3_000);
    expect(keptAlive.received()).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('the connection cap', () => {
  it('answers connections over the cap with a 503 at once and serves again once below it', async () => {
    const g = await gateway({ connections: { maxConnections: 3 } });
    const streams = [1, 2, 3].map(() => chat(g, 'deltas=10,interval=100'));
    // Wait until the three streams hold their connections.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const refused = await chat(g, 'deltas=2');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body.toString())).toMatchObject({ error: { code: 'too_many_connections' } });

    for (const res of await Promise.all(streams)) expect(res).toMatchObject({ status: 200, complete: true });
    const again = await chat(g, 'deltas=2');
    expect(again.status).toBe(200);
    expect(held(g)).toBe(0);
  });
});

describe('upstream deadlines', () => {
  const timeouts = { upstreamFirstByteTimeoutMs: 300, upstreamInterByteTimeoutMs: 300, upstreamTimeoutMs: 30_000 };

  it('ends a stream whose upstream goes silent mid-answer, cleanly, and bills what was seen', async () => {
    const g = await gateway(timeouts);
    const rows = rowCount(g);
    const started = Date.now();
    // The role chunk and three text deltas, then silence with the connection open.
    const res = await chat(g, 'deltas=10,stall=4');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res).toMatchObject({ status: 200, complete: true });
    expect(res.body.toString()).not.toContain('[DONE]');
    expect(rowCount(g)).toBe(rows + 1);
    const row = g.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'upstream_cut' });
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(row.outputTokens).toBeLessThan(10);
    expect(held(g)).toBe(0);
  });

  it("answers 504 when a stream's first byte does not come in time, charging nothing", async () => {
    const g = await gateway(timeouts);
    const rows = rowCount(g);
    const res = await chat(g, 'delay=3000');
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'upstream_timeout' } });
    expect(rowCount(g)).toBe(rows);
    expect(held(g)).toBe(0);
  });

  it("gives a non-streaming answer, which comes whole once generated, longer than a stream's first byte", async () => {
    const g = await gateway(timeouts);
    const res = await chat(g, 'delay=700', json({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }));
    expect(res.status).toBe(200);
    expect(g.ledger.usageRows({}).at(-1)).toMatchObject({ estimated: false });
  });
});

/** V8's collector, for a heap measurement that counts what is held rather than what is not yet collected. */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('/creditgate/v1/events', () => {
  it('keeps 20 readers that stopped reading from growing the gateway, and sends a drained reader the latest status', async () => {
    const g = await gateway({});
    const gc = collector();
    const readers = await Promise.all(Array.from({ length: 20 }, () => connect(g.url)));
    for (const reader of readers) {
      reader.socket.write(`GET /creditgate/v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${g.auth.authorization}\r\n\r\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const reader of readers) reader.socket.pause();
    gc();
    const before = process.memoryUsage();

    // Each status pushed to every reader: about 20 × 12 MB in all, past what the kernel buffers
    // (about 4 MB per connection here), so a gateway that queued them would hold well over 100 MB.
    const statusBytes = Buffer.byteLength(JSON.stringify(g.ledger.status()));
    const pushes = Math.ceil((12 * 1024 * 1024) / statusBytes);
    for (let i = 0; i < pushes; i++) {
      g.ledger.setAutoUseCredits(i % 2 === 0, 'test');
      g.gateway.feed.changed();
      await new Promise((resolve) => setImmediate(resolve));
    }
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.external - (before.heapUsed + before.external);
    expect(grown).toBeLessThan(32 * 1024 * 1024);

    // A reader that drains again gets the status as it is now.
    const last = readers[0]!;
    g.ledger.setAutoUseCredits(true, 'test');
    g.gateway.feed.changed();
    last.socket.resume();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const events = last.received().split('\n\n').filter((block) => block.includes('data: '));
    const latest = JSON.parse(events.at(-1)!.split('data: ')[1]!);
    expect(latest.autoUseCredits).toBe(true);
    for (const reader of readers) reader.socket.destroy();
  }, 120_000);

  it('ends the stream when the gateway stops', async () => {
    const g = await gateway({});
    const reader = await connect(g.url);
    reader.socket.write(`GET /creditgate/v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${g.auth.authorization}\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await g.gateway.close();
    await reader.closedAfterMs;
    expect(reader.received()).toMatch(/\r\n0\r\n\r\n$/);
  });
});

describe('/creditgate/v1/usage', () => {
  /** `count` usage rows, one request each, free of charge. */
  function record(g: TestGateway, count: number): void {
    for (let i = 0; i < count; i++) {
      const admission = g.ledger.admit({ requestId: randomUUID(), client: 'pager', model: 'gpt-5', route: '/v1/responses', feature: 'assistant', estimate: 0 });
      if (!admission.admitted) throw new Error('not admitted');
      g.ledger.post(admission.holdId, { usage: emptyUsage('openai') });
    }
  }

  const get = (g: TestGateway, pathAndQuery: string) => rawRequest(`${g.url}${pathAndQuery}`, { method: 'GET', headers: g.auth });
  const nextLink = (link: string | string[] | undefined): string | null => /<([^>]+)>; rel="next"/.exec(String(link ?? ''))?.[1] ?? null;

  it('answers at most a page of the newest rows by default, linking to the next page until the oldest', async () => {
    const g = await gateway({});
    record(g, 2_500);
    const first = await get(g, '/creditgate/v1/usage');
    const page = JSON.parse(first.body.toString()) as { id: number }[];
    expect(page).toHaveLength(1_000);
    expect(page[0]!.id).toBe(1_501);
    expect(page.at(-1)!.id).toBe(2_500);
    expect(nextLink(first.headers.link)).toBe('/creditgate/v1/usage?before=1501');

    const seen = page.map((row) => row.id);
    let next = nextLink(first.headers.link);
    while (next) {
      const res = await get(g, next);
      seen.push(...(JSON.parse(res.body.toString()) as { id: number }[]).map((row) => row.id));
      next = nextLink(res.headers.link);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
  });

  it('keeps the query in the next link and honours a smaller limit', async () => {
    const g = await gateway({});
    record(g, 30);
    const res = await get(g, '/creditgate/v1/usage?since=2000-01-01T00%3A00%3A00Z&limit=20');
    expect((JSON.parse(res.body.toString()) as unknown[]).length).toBe(20);
    expect(nextLink(res.headers.link)).toBe('/creditgate/v1/usage?since=2000-01-01T00%3A00%3A00Z&limit=20&before=11');
    const rest = await get(g, nextLink(res.headers.link)!);
    expect((JSON.parse(rest.body.toString()) as unknown[]).length).toBe(10);
    expect(rest.headers.link).toBeUndefined();
  });

  it('exports the whole range as CSV, streamed oldest first', async () => {
    const g = await gateway({});
    record(g, 2_500);
    const res = await get(g, '/creditgate/v1/usage?format=csv');
    expect(res.status).toBe(200);
    const lines = res.body.toString().trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,ts,client,/);
    expect(lines.slice(1).map((line) => Number(line.split(',')[0]))).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
  });
});
