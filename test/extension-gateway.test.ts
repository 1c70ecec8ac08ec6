/**
 * The gateway process the extension starts (proxy/main.ts), driven over node IPC like
 * vscode-languageclient does: initialize, requests, status pushes, joining a running gateway on the
 * same data directory, and taking over when its owner dies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProtocolConnection, IPCMessageReader, IPCMessageWriter, type ProtocolConnection } from 'vscode-languageserver-protocol/node';
import type { Status } from '../shared/protocol';
import { rawRequest, startFakeUpstream } from './fake-upstream';
import { cli } from './helpers/cliProcess';
import type { GatewayInfo, GatewayInitOptions } from '../shared/rpc';
import { AddCreditsRpc, InfoChangedNotification, InfoRequest, IssueTokenRequest, RateCardRequest, StatusChangedNotification, StatusRequest, UsageRequest } from '../shared/rpc';

interface Gateway {
  child: ChildProcess;
  connection: ProtocolConnection;
  pushes: Status[];
  infos: GatewayInfo[];
}

const running: Gateway[] = [];
const dirs: string[] = [];

async function startGateway(options: GatewayInitOptions, env: NodeJS.ProcessEnv = {}): Promise<Gateway> {
  const child = fork(path.join(__dirname, '../proxy/main.ts'), ['--node-ipc'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, CREDITGATE_CONFIG: '', OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const connection = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const gateway: Gateway = { child, connection, pushes: [], infos: [] };
  connection.onNotification(StatusChangedNotification, (status) => {
    gateway.pushes.push(status);
  });
  connection.onNotification(InfoChangedNotification, (info) => {
    gateway.infos.push(info);
  });
  connection.onNotification('window/logMessage', () => undefined);
  connection.listen();
  running.push(gateway);
  await connection.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: options });
  await connection.sendNotification('initialized', {});
  return gateway;
}

async function until<T>(probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function lockFile(dataDir: string): { pid: number; port: number | null; instance: string } {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'gateway.lock'), 'utf8')) as { pid: number; port: number | null; instance: string };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-ext-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const gateway of running.splice(0)) {
    gateway.connection.dispose();
    gateway.child.kill('SIGKILL');
  }
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('gateway process (proxy/main.ts)', () => {
  it('serves, answers requests and pushes status changes within 250 ms', async () => {
    const dataDir = tempDir();
    const gateway = await startGateway({ dataDir, port: 0, plan: 'pro' });
    const info = await gateway.connection.sendRequest(InfoRequest);
    expect(info).toMatchObject({ role: 'owner', dataDir, ownerPid: gateway.child.pid });
    expect(info.port).toBeGreaterThan(0);

    // /healthz tells nothing but an opaque id; the lock file in the private data directory holds the same.
    const health = (await (await fetch(`${info.url}/healthz`)).json()) as { instance: string };
    expect(health).toEqual({ ok: true, app: 'creditgate', instance: lockFile(dataDir).instance });
    expect(lockFile(dataDir)).toMatchObject({ pid: gateway.child.pid, port: info.port });

    const status = await gateway.connection.sendRequest(StatusRequest);
    expect(status).toMatchObject({ plan: 'pro', state: 'plan', credits: { balance: 0 } });
    await until(() => gateway.pushes.length > 0);

    const started = Date.now();
    const added = await gateway.connection.sendRequest(AddCreditsRpc, { amount: 100.5, idempotencyKey: 'k1' });
    expect(added.credits.balance).toBe(100.5);
    await until(() => gateway.pushes.some((s) => s.credits.balance === 100.5));
    expect(Date.now() - started).toBeLessThan(250 + 100);
    // Idempotent: the same key adds nothing.
    expect((await gateway.connection.sendRequest(AddCreditsRpc, { amount: 100.5, idempotencyKey: 'k1' })).credits.balance).toBe(100.5);

    await expect(gateway.connection.sendRequest(AddCreditsRpc, { amount: -1, idempotencyKey: 'k2' })).rejects.toThrow(/amount/);
    expect((await gateway.connection.sendRequest(RateCardRequest)).packs.length).toBeGreaterThan(0);
    const { token } = await gateway.connection.sendRequest(IssueTokenRequest, { name: 'codex' });
    const authed = await fetch(`${info.url}/creditgate/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    expect(authed.status).toBe(200);
    expect(await gateway.connection.sendRequest(UsageRequest, { groupBy: 'model' })).toEqual({ kind: 'groups', groups: [] });
  });

  it('joins the gateway that owns the data directory and takes over when it dies', async () => {
    const dataDir = tempDir();
    const owner = await startGateway({ dataDir, port: 0 });
    const ownerInfo = await owner.connection.sendRequest(InfoRequest);
    const joined = await startGateway({ dataDir, port: ownerInfo.port });
    expect(await joined.connection.sendRequest(InfoRequest)).toMatchObject({ role: 'joined', port: ownerInfo.port, ownerPid: owner.child.pid });

    // A change made through the joined process reaches the owner's listeners, and the reverse.
    await joined.connection.sendRequest(AddCreditsRpc, { amount: 7, idempotencyKey: 'j1' });
    await until(() => owner.pushes.some((s) => s.credits.balance === 7), 1_000);
    await owner.connection.sendRequest(AddCreditsRpc, { amount: 3, idempotencyKey: 'o1' });
    await until(() => joined.pushes.some((s) => s.credits.balance === 10), 1_000);

    owner.child.kill('SIGKILL');
    const info = await until(() => joined.infos.find((i) => i.role === 'owner'), 8_000);
    expect(info).toMatchObject({ role: 'owner', port: ownerInfo.port, ownerPid: joined.child.pid });
    const health = (await (await fetch(`${info.url}/healthz`)).json()) as { instance: string };
    expect(lockFile(dataDir)).toMatchObject({ pid: joined.child.pid, instance: health.instance });
    expect((await joined.connection.sendRequest(StatusRequest)).credits.balance).toBe(10);
  });

  it('stops gracefully on the shutdown request, within the 5 s the editor waits: short streams finish, long ones are ended and billed', async () => {
    const upstream = await startFakeUpstream();
    try {
      const dataDir = tempDir();
      const gateway = await startGateway({ dataDir, port: 0, plan: 'pro' }, { CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1` });
      const { url } = await gateway.connection.sendRequest(InfoRequest);
      const { token } = await gateway.connection.sendRequest(IssueTokenRequest, { name: 'codex' });
      const stream = (behavior: string) =>
        rawRequest(`${url}/v1/chat/completions`, {
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-fake-behavior': behavior },
          body: JSON.stringify({ model: 'gpt-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
        });
      const short = [stream('deltas=5,interval=200'), stream('deltas=5,interval=200')];
      const long = [stream('deltas=100,interval=100'), stream('deltas=100,interval=100')];
      await until(() => upstream.requests.length === 4);

      const started = Date.now();
      await gateway.connection.sendRequest('shutdown');
      expect(Date.now() - started).toBeLessThan(5_000);
      const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
      await gateway.connection.sendNotification('exit');
      expect(await exited).toBe(0);

      for (const res of await Promise.all(short)) expect(res.body.toString()).toContain('data: [DONE]');
      for (const res of await Promise.all(long)) expect(res).toMatchObject({ status: 200, complete: true });
      const env = { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '' };
      const rows = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line) as { reason: string | null });
      expect(rows.map((row) => row.reason ?? 'exact').sort()).toEqual(['exact', 'exact', 'gateway_stop', 'gateway_stop']);
      const status = JSON.parse(cli(['status', '--json'], env).stdout) as Status;
      expect(status.credits.held + status.windows.reduce((sum, w) => sum + w.held, 0)).toBe(0);
    } finally {
      await upstream.close();
    }
  });

  it("refuses to join another data directory's gateway that holds the port", async () => {
    const other = await startGateway({ dataDir: tempDir(), port: 0 });
    const { port } = await other.connection.sendRequest(InfoRequest);
    await expect(startGateway({ dataDir: tempDir(), port })).rejects.toThrow(/port \d+ is in use by the Creditgate gateway of another data directory/);
  });

  it('refuses to start when the port belongs to another program', async () => {
    const http = await import('node:http');
    const other = http.createServer((_req, res) => res.end('not creditgate'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as { port: number }).port;
    try {
      await expect(startGateway({ dataDir: tempDir(), port })).rejects.toThrow(/port \d+ is in use by another program/);
    } finally {
      other.close();
    }
  });
});
