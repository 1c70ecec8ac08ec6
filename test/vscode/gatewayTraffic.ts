/**
 * The client side of the editor tests: the project's fake upstream (started in the test process),
 * the environment that points the extension's gateway at it, and requests sent through the gateway
 * as a coding assistant would send them (a token from the `creditgate` CLI, then
 * POST /v1/chat/completions with `x-fake-usage` choosing what the upstream reports).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Status } from '../../shared/protocol';
import { startFakeUpstream, type FakeUpstream } from '../fake-upstream';

/**
 * A plan small enough to trip in a few requests: gpt-4o-mini input is 3.75 cr per 1M tokens, so
 * 10,000 input tokens use 12.5 % of the 5h window and 100,000 more use it up.
 */
export const TINY_PLAN_CONFIG = { plan: 'tiny', plans: { tiny: { windows: { '5h': 0.3, weekly: 5 }, features: ['assistant'] } } };

export interface GatewayFixture {
  upstream: FakeUpstream;
  dataDir: string;
  configFile: string;
  port: number;
  url: string;
  /** What the editor (and so its extension host and the gateway) gets in its environment. */
  env: Record<string, string>;
  token: string;
  close(): Promise<void>;
}

export interface ChatResult {
  status: number;
  state: string | null;
  body: string;
}

/** A gateway answering /healthz: its opaque instance id, and the pid of the lock file's owner when the ids match. */
export interface Health {
  instance: string;
  /** null when the data directory's lock file names another instance (or none). */
  pid: number | null;
}

/** Starts the fake upstream and issues a client token with the CLI on a fresh data directory. */
export async function startGatewayFixture(root: string, port: number, cli: string): Promise<GatewayFixture> {
  const upstream = await startFakeUpstream();
  const dataDir = path.join(root, 'creditgate-data');
  const configFile = path.join(root, 'creditgate.json');
  fs.writeFileSync(configFile, JSON.stringify(TINY_PLAN_CONFIG));
  const env = {
    CREDITGATE_DATA_DIR: dataDir,
    CREDITGATE_CONFIG: configFile,
    CREDITGATE_PORT: String(port),
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
    // The fake upstream takes any key; having one also means the extension must not ask for it.
    OPENAI_API_KEY: 'sk-editor-test',
    ANTHROPIC_API_KEY: 'sk-ant-editor-test',
  };
  // As a user connecting a client would: the CLI writes the token into the same ledger.
  const output = execFileSync(process.execPath, [cli, 'token', '--name', 'editor-test', '--data-dir', dataDir, '--config', configFile], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  const token = output.trim().split('\n').pop()?.trim() ?? '';
  if (!/^\S{16,}$/.test(token)) throw new Error(`creditgate token printed no token: ${output}`);
  return { upstream, dataDir, configFile, port, url: `http://127.0.0.1:${port}`, env, token, close: () => upstream.close() };
}

/** A gateway's URL and the token a request goes with. */
export type GatewayEndpoint = Pick<GatewayFixture, 'url' | 'token'>;

/** One chat completion through the gateway; the fake upstream reports `inputTokens` as used. */
export async function chat(fixture: GatewayEndpoint, inputTokens: number): Promise<ChatResult> {
  const res = await fetch(`${fixture.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${fixture.token}`,
      'content-type': 'application/json',
      'x-fake-usage': JSON.stringify({ input_tokens: inputTokens, output_tokens: 5 }),
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, state: res.headers.get('x-creditgate-state'), body: await res.text() };
}

/** The account as the gateway reports it to clients (GET /creditgate/v1/status). */
export async function gatewayStatus(fixture: GatewayEndpoint): Promise<Status> {
  const res = await fetch(`${fixture.url}/creditgate/v1/status`, { headers: { authorization: `Bearer ${fixture.token}` }, signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET /creditgate/v1/status: ${res.status} ${await res.text()}`);
  return (await res.json()) as Status;
}

/** Who serves the port, or null when nothing answers. */
export async function health(fixture: GatewayFixture): Promise<Health | null> {
  try {
    const res = await fetch(`${fixture.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return null;
    const body = (await res.json()) as { app?: string; instance?: string };
    if (body.app !== 'creditgate' || typeof body.instance !== 'string') return null;
    const owner = lockOwner(fixture);
    return { instance: body.instance, pid: owner?.instance === body.instance ? owner.pid : null };
  } catch {
    return null;
  }
}

/** The pid and instance id the data directory's lock file names (proxy/gatewayLock.ts), or null. */
function lockOwner(fixture: GatewayFixture): { pid: number; instance: string | null } | null {
  try {
    const owner = JSON.parse(fs.readFileSync(path.join(fixture.dataDir, 'gateway.lock'), 'utf8')) as { pid?: unknown; instance?: unknown };
    if (typeof owner.pid !== 'number') return null;
    return { pid: owner.pid, instance: typeof owner.instance === 'string' ? owner.instance : null };
  } catch {
    return null;
  }
}

/** The pid the data directory's lock file names, or null. */
export function lockOwnerPid(fixture: GatewayFixture): number | null {
  return lockOwner(fixture)?.pid ?? null;
}

/** Live processes whose command line mentions `needle` (e.g. the test's temp folder), from /proc. */
export function processesMentioning(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const state = /^State:\s+(\w)/m.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (state !== 'Z' && cmdline.includes(needle)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
