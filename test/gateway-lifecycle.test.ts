/**
 * The pieces of a graceful stop and of the upstream deadlines, in process: the in-flight count the
 * stop waits on, the silence timer, a request arriving on a kept-alive connection while the gateway
 * stops, and a request still waiting for its upstream when the grace period ends.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import { InFlight } from '../proxy/gateway/inFlight';
import { SilenceTimer } from '../proxy/gateway/silenceTimer';
import { rawRequest } from './fake-upstream';
import { startTestGateway, type TestGateway } from './helpers/testGateway';

describe('InFlight', () => {
  it('is idle at once when nothing runs, and once the last piece of work ends', async () => {
    const work = new InFlight();
    expect(await work.idleWithin(10)).toBe(true);
    work.begin();
    work.begin();
    const idle = work.idleWithin(5_000);
    work.end();
    setTimeout(() => work.end(), 20);
    expect(await idle).toBe(true);
    expect(work.size).toBe(0);
  });

  it('gives up when the time is over or when hurried', async () => {
    const work = new InFlight();
    work.begin();
    expect(await work.idleWithin(30)).toBe(false);
    expect(await work.idleWithin(0)).toBe(false);
    const hurry = new AbortController();
    const waiting = work.idleWithin(60_000, hurry.signal);
    hurry.abort();
    expect(await waiting).toBe(false);
    expect(await work.idleWithin(60_000, hurry.signal)).toBe(false);
  });
});

describe('SilenceTimer', () => {
  afterEach(() => vi.useRealTimers());

  it('fires after the limit of silence, each sign of life restarting the count', () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const timer = new SilenceTimer((ms) => fired.push(ms));
    timer.watch(100);
    vi.advanceTimersByTime(80);
    timer.heard();
    vi.advanceTimersByTime(80);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(30);
    expect(fired).toEqual([100]);
    vi.advanceTimersByTime(500);
    expect(fired).toEqual([100]);
  });

  it('fires at the limit when armed for less at a time, and a shorter limit needs no new timer', () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const timer = new SilenceTimer((ms) => fired.push(ms), 100);
    timer.watch(250);
    vi.advanceTimersByTime(249);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([250]);

    timer.watch(300);
    vi.advanceTimersByTime(50);
    timer.watch(100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(fired).toEqual([250]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([250, 100]);
  });

  it('does not count a pause it was told of, counts again from the resume, and stops for good', () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const timer = new SilenceTimer((ms) => fired.push(ms));
    timer.watch(100);
    timer.pause();
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([]);
    timer.resume();
    vi.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([100]);

    timer.watch(50);
    timer.stop();
    timer.resume();
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([100]);
  });
});

describe('stopping an in-process gateway', () => {
  let gw: TestGateway | null = null;
  afterEach(async () => {
    await gw?.close();
    gw = null;
  });
  const held = (g: TestGateway): number => g.ledger.status().credits.held + g.ledger.status().windows.reduce((sum, w) => sum + w.held, 0);

  it('answers a request arriving on a busy kept-alive connection with 503 in its shape, then closes the connection', async () => {
    gw = await startTestGateway({ plan: 'pro' });
    const { port } = new URL(gw.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = JSON.stringify({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${gw.auth.authorization}\r\n` +
        `content-type: application/json\r\nx-fake-behavior: deltas=6,interval=100\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await vi.waitFor(() => expect(received).toContain('HTTP/1.1 200'));

    const stopped = gw.gateway.close({ graceMs: 5_000 });
    socket.write(`GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${gw.auth.authorization}\r\n\r\n`);
    await closed;
    await stopped;

    const [stream, refusal] = received.split(/(?=HTTP\/1\.1 503)/);
    expect(stream).toContain('data: [DONE]');
    expect(refusal).toMatch(/^HTTP\/1\.1 503 /);
    expect(refusal!.toLowerCase()).toContain('connection: close');
    expect(refusal).toContain('"code":"gateway_stopping"');
    expect(gw.ledger.usageRows({}).at(-1)).toMatchObject({ estimated: false });
    expect(held(gw)).toBe(0);
  });

  it('answers a request still waiting for its upstream after the grace period with 503, billed at its estimate', async () => {
    gw = await startTestGateway({ plan: 'pro' });
    const waiting = rawRequest(`${gw.url}/v1/messages`, {
      headers: { ...gw.auth, 'content-type': 'application/json', 'x-fake-behavior': 'delay=5000' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'take your time' }] }),
    });
    await vi.waitFor(() => expect(gw!.upstream.requests.length).toBeGreaterThan(0));
    const started = Date.now();
    await gw.gateway.close({ graceMs: 200 });
    expect(Date.now() - started).toBeLessThan(2_000);

    const res = await waiting;
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString())).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    const row = gw.ledger.usageRows({}).at(-1)!;
    expect(row).toMatchObject({ estimated: true, reason: 'gateway_stop', outputTokens: 0 });
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(held(gw)).toBe(0);
  });
});
