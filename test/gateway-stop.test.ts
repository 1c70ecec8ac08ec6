/**
 * Stopping a real `creditgate serve` process with streams in flight: SIGTERM closes the listener and
 * lets the streams finish within shutdownGraceMs; streams that outlive it are ended cleanly and billed
 * from what they streamed (`gateway_stop`); a second signal ends the grace period at once. Every way,
 * each stream leaves exactly one usage row, no hold stays open, and the process exits 0.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { cli, serve, type ServeProcess, killServeProcesses } from './helpers/cliProcess';
import { eventually } from './helpers/testGateway';

const STREAMS = 5;

let upstream: FakeUpstream;
let env: NodeJS.ProcessEnv;
let dataDir: string;
const running: ServeProcess[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => upstream.close());
afterEach(async () => {
  await killServeProcesses(running);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function start(config: Record<string, unknown>): Promise<{ server: ServeProcess; bearer: string }> {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-stop-'));
  const configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ plan: 'pro', ...config }));
  env = {
    CREDITGATE_DATA_DIR: dataDir,
    CREDITGATE_CONFIG: configFile,
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
  };
  const bearer = cli(['token', '--name', 'stop-test'], env).stdout.trim().split('\n').at(-1)!;
  const server = await serve([], env);
  running.push(server);
  return { server, bearer };
}

interface StreamOutcome {
  status: number;
  body: string;
  /** The response ended properly (not aborted or reset). */
  complete: boolean;
}

/** A streaming chat request; `started` resolves once its first bytes arrived (it is in flight). */
function stream(url: string, bearer: string, behavior: string): { started: Promise<void>; outcome: Promise<StreamOutcome> } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const outcome = new Promise<StreamOutcome>((resolve, reject) => {
    const req = http.request(
      `${url}/v1/chat/completions`,
      { method: 'POST', agent: false, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-behavior': behavior } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
          markStarted();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: true }));
        res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count slowly' }] }));
  });
  return { started, outcome };
}

async function inFlight(url: string, bearer: string, behavior: string): Promise<Promise<StreamOutcome>[]> {
  const streams = Array.from({ length: STREAMS }, () => stream(url, bearer, behavior));
  await Promise.all(streams.map((s) => s.started));
  return streams.map((s) => s.outcome);
}

const usageRows = (): { estimated: boolean; reason: string | null; outputTokens: number }[] =>
  cli(['usage', '--json'], env)
    .stdout.trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));

function held(): number {
  const status = JSON.parse(cli(['status', '--json'], env).stdout);
  return status.credits.held + status.windows.reduce((sum: number, window: { held: number }) => sum + window.held, 0);
}

describe('stopping creditgate serve', () => {
  it('lets streams in flight finish on SIGTERM, takes no new connection meanwhile, writes every charge and exits 0', async () => {
    const { server, bearer } = await start({ shutdownGraceMs: 10_000 });
    const outcomes = await inFlight(server.url, bearer, 'deltas=10,interval=150');
    server.child.kill('SIGTERM');
    await eventually(() => expect(server.stderr()).toMatch(/stopping/));
    await expect(rawRequest(`${server.url}/healthz`, { method: 'GET' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome).toMatchObject({ status: 200, complete: true });
      expect(outcome.body).toContain('data: [DONE]');
    }
    expect(await server.exited).toBe(0);
    running.length = 0;
    const rows = usageRows();
    expect(rows).toHaveLength(STREAMS);
    for (const row of rows) expect(row).toMatchObject({ estimated: false, reason: null, outputTokens: 10 });
    expect(held()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'gateway.lock'))).toBe(false);
  });

  it('ends streams that outlive the grace period cleanly and bills each from what it streamed', async () => {
    const { server, bearer } = await start({ shutdownGraceMs: 300 });
    const outcomes = await inFlight(server.url, bearer, 'deltas=100,interval=100');
    const signalled = Date.now();
    server.child.kill('SIGTERM');

    for (const outcome of await Promise.all(outcomes)) {
      expect(outcome).toMatchObject({ status: 200, complete: true });
      expect(outcome.body).not.toContain('[DONE]');
    }
    expect(await server.exited).toBe(0);
    running.length = 0;
    // The streams had 10 s to go: they were ended after the 300 ms grace, not waited for.
    expect(Date.now() - signalled).toBeLessThan(5_000);
    const rows = usageRows();
    expect(rows).toHaveLength(STREAMS);
    for (const row of rows) {
      expect(row).toMatchObject({ estimated: true, reason: 'gateway_stop' });
      expect(row.outputTokens).toBeGreaterThan(0);
      expect(row.outputTokens).toBeLessThan(100);
    }
    expect(held()).toBe(0);
  });

  it('ends the grace period at once on a second signal', async () => {
    const { server, bearer } = await start({ shutdownGraceMs: 60_000 });
    const outcomes = await inFlight(server.url, bearer, 'deltas=100,interval=100');
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await eventually(() => expect(server.stderr()).toMatch(/stopping/));
    server.child.kill('SIGINT');

    for (const outcome of await Promise.all(outcomes)) expect(outcome).toMatchObject({ status: 200, complete: true });
    expect(await server.exited).toBe(0);
    running.length = 0;
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(usageRows().map((row) => row.reason)).toEqual(Array(STREAMS).fill('gateway_stop'));
    expect(held()).toBe(0);
  });
});
