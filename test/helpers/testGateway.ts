/**
 * An in-process gateway in front of the fake upstream, on a fresh data directory, for the gateway
 * tests. Everything is real (SQLite ledger on disk, http-proxy, the dialects); only the upstream is
 * ours.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { PlanDefinition } from '../../shared/plans';
import { resolvePlans } from '../../shared/plans';
import type { RateCard } from '../../shared/rateCard';
import {
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REQUEST_BODY_TIMEOUT_MS,
  DEFAULT_REQUEST_HEADERS_TIMEOUT_MS,
} from '../../proxy/config/defaults';
import type { ConnectionLimits } from '../../proxy/gateway/connectionLimits';
import { Gateway } from '../../proxy/gateway/server';
import { UpstreamKeys } from '../../proxy/gateway/upstream';
import { Ledger } from '../../proxy/ledger/ledger';
import { admissionEstimator } from '../../proxy/pricing/admissionEstimator';
import { defaultRateCard } from '../../proxy/pricing';
import { startFakeUpstream, type FakeUpstream } from '../fake-upstream';

export const UPSTREAM_OPENAI_KEY = 'sk-upstream-openai-secret';
export const UPSTREAM_ANTHROPIC_KEY = 'sk-ant-upstream-secret';
/** What the test gateway's /healthz answers with (a real one's comes from its lock file). */
export const TEST_INSTANCE_ID = 'test-instance';

export interface TestGatewayOptions {
  plan?: string;
  plans?: Record<string, PlanDefinition>;
  autoUseCredits?: boolean;
  rateCard?: RateCard;
  maxBodyBytes?: number;
  /** How long a non-streaming request waits for its answer (default 30 s). */
  upstreamTimeoutMs?: number;
  /** How long a streaming request waits for the upstream's first byte (default 30 s). */
  upstreamFirstByteTimeoutMs?: number;
  /** The longest silence in the middle of an answer (default 30 s). */
  upstreamInterByteTimeoutMs?: number;
  /** Connection limits (default: the shipped ones). */
  connections?: Partial<ConnectionLimits>;
  /** How long close() lets requests in flight finish (default 2 s). */
  shutdownGraceMs?: number;
  /** Micro-credits (default half a credit, as shipped). */
  overspendMargin?: number;
  /** Another OpenAI upstream than the fake one (a test's own server). */
  openaiBaseUrl?: string;
  /** How long a ledger write waits for another connection's lock (default: the ledger's 5 s). */
  busyTimeoutMs?: number;
}

export interface TestGateway {
  url: string;
  /** A client token: spends and reads. */
  token: string;
  /** An admin token: may also change the account through the own API. */
  adminToken: string;
  ledger: Ledger;
  gateway: Gateway;
  upstream: FakeUpstream;
  dataDir: string;
  /** Authorization header for the test client. */
  auth: Record<string, string>;
  /** Authorization header with the admin token. */
  adminAuth: Record<string, string>;
  close(): Promise<void>;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const upstream = await startFakeUpstream();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-test-'));
  const rateCard = options.rateCard ?? defaultRateCard();
  const ledger = Ledger.open({
    path: path.join(dataDir, 'creditgate.db'),
    rateCard,
    plans: resolvePlans(options.plans),
    initialPlan: options.plan ?? 'plus',
    initialAutoUseCredits: options.autoUseCredits ?? true,
    busyTimeoutMs: options.busyTimeoutMs,
  });
  const keys = new UpstreamKeys();
  keys.set('openai', UPSTREAM_OPENAI_KEY);
  keys.set('anthropic', UPSTREAM_ANTHROPIC_KEY);
  const quiet = { info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
  const gateway = await Gateway.start(
    {
      ledger,
      rateCard,
      endpoints: { openai: { baseUrl: options.openaiBaseUrl ?? `${upstream.url}/v1` }, anthropic: { baseUrl: upstream.url } },
      keys,
      estimator: admissionEstimator({ recentOutputTokens: (model) => ledger.recentOutputTokens(model, 200) }),
      maxBodyBytes: options.maxBodyBytes ?? 32 * 1024 * 1024,
      overspendMargin: options.overspendMargin ?? 500_000,
      upstreamTimeouts: {
        answerMs: options.upstreamTimeoutMs ?? 30_000,
        firstByteMs: options.upstreamFirstByteTimeoutMs ?? 30_000,
        interByteMs: options.upstreamInterByteTimeoutMs ?? 30_000,
      },
      connections: {
        requestHeadersTimeoutMs: DEFAULT_REQUEST_HEADERS_TIMEOUT_MS,
        requestBodyTimeoutMs: DEFAULT_REQUEST_BODY_TIMEOUT_MS,
        keepAliveTimeoutMs: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
        maxConnections: DEFAULT_MAX_CONNECTIONS,
        ...options.connections,
      },
      shutdownGraceMs: options.shutdownGraceMs ?? 2_000,
      log: quiet,
      instanceId: TEST_INSTANCE_ID,
    },
    0,
  );
  const token = ledger.issueToken('test-client');
  const adminToken = ledger.issueToken('test-admin', 'admin');
  return {
    url: gateway.url,
    token,
    adminToken,
    ledger,
    gateway,
    upstream,
    dataDir,
    auth: { authorization: `Bearer ${token}` },
    adminAuth: { authorization: `Bearer ${adminToken}` },
    async close() {
      await gateway.close();
      await upstream.close();
      ledger.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Parses an SSE body into its events (event name and parsed JSON data, or the raw data string). */
export function sseEvents(body: string): { event: string | null; data: unknown }[] {
  return body
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim().length > 0)
    .map((block) => {
      let event: string | null = null;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      const text = data.join('\n');
      try {
        return { event, data: JSON.parse(text) as unknown };
      } catch {
        return { event, data: text };
      }
    });
}

/** The one codex.rate_limits event of a Codex Responses stream, checked to come right before response.completed. */
export function codexRateLimitsEvent(body: string): { plan_type: string; rate_limits: { primary: { used_percent: number; window_minutes: number } } } {
  const events = sseEvents(body);
  const types = events.map((e) => (e.data as { type?: string }).type);
  const at = types.indexOf('codex.rate_limits');
  expect(at).toBeGreaterThan(0);
  expect(types[at + 1]).toBe('response.completed');
  expect(types.filter((t) => t === 'codex.rate_limits')).toHaveLength(1);
  return events[at]!.data as ReturnType<typeof codexRateLimitsEvent>;
}

/** Polls until the check passes (for effects that land right after a response ends). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Follows an instance's /events stream; `balances` fills with each status pushed. */
export function followBalances(base: string, bearer: string): { balances: number[]; stop: () => void } {
  const balances: number[] = [];
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(`${base}/creditgate/v1/events`, { headers: { authorization: `Bearer ${bearer}` }, signal: controller.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const event of sseEvents(decoder.decode(value))) balances.push((event.data as { credits: { balance: number } }).credits.balance);
    }
  })().catch(() => undefined);
  return { balances, stop: () => controller.abort() };
}
