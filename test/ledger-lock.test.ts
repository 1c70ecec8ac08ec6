/**
 * Another process holding the ledger locked (a stuck CLI, a sqlite3 shell in a transaction) for 10 s
 * while a gateway serves streams. It used to freeze everything (SQLite's busy wait blocked the event
 * loop: /healthz took 9.5 s, streams stalled) and drop charges ("database is locked": the delivered
 * streams' holds stayed open until the next start settled them at their estimate). Now: /healthz
 * answers within 100 ms throughout, the streams keep flowing, every delivered stream's charge lands
 * once (at its real usage) when the lock goes, even across a restart, and a new request is refused
 * with 503 ledger_busy after waiting ledgerBusyTimeoutMs, never forwarded.
 *
 * The gateway is a `creditgate serve` process; this test process holds the lock, as another process.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { cli, serve, type ServeProcess, killServeProcesses } from './helpers/cliProcess';
import { eventually } from './helpers/testGateway';

const LOCK_MS = 10_000;
/** How long a request waits for its hold while the ledger is locked (the config's ledgerBusyTimeoutMs). */
const PATIENCE_MS = 1_000;

let upstream: FakeUpstream;
let root: string;
let env: NodeJS.ProcessEnv;
let token: string;
const servers: ServeProcess[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => upstream.close());
afterEach(async () => {
  await killServeProcesses(servers);
  fs.rmSync(root, { recursive: true, force: true });
});

function freshAccount(): void {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-lock-'));
  const configFile = path.join(root, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ plan: 'pro', ledgerBusyTimeoutMs: PATIENCE_MS }));
  env = {
    CREDITGATE_DATA_DIR: path.join(root, 'data'),
    CREDITGATE_CONFIG: configFile,
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
  };
  token = cli(['token', '--name', 'lock-test'], env).stdout.trim().split('\n').at(-1)!;
}

const databaseFile = (): string => path.join(root, 'data', 'creditgate.db');
const journalFile = (): string => `${databaseFile()}.pending-charges`;

async function startGateway(): Promise<ServeProcess> {
  const server = await serve([], env);
  servers.push(server);
  return server;
}

/** Another connection taking the write lock and keeping it, as a stuck process would. */
function lockLedger(): () => void {
  const other = new Database(databaseFile());
  other.exec('BEGIN EXCLUSIVE');
  return () => {
    other.exec('COMMIT');
    other.close();
  };
}

interface StreamResult {
  status: number;
  requestId: string;
  body: string;
  /** performance.now() of each chunk's arrival. */
  chunkTimes: number[];
  endedAt: number;
}

/**
 * A Responses stream read as it arrives. `tag` goes into the prompt, so the upstream's record shows
 * whether it was forwarded; `codex` sends Codex's originator header (its charge is written at the
 * terminal event, for the rate-limit event injected before it).
 */
function stream(url: string, tag: string, behavior: string, codex = false): { firstChunk: Promise<void>; done: Promise<StreamResult> } {
  let firstChunk!: () => void;
  const first = new Promise<void>((resolve) => (firstChunk = resolve));
  const done = new Promise<StreamResult>((resolve, reject) => {
    const req = http.request(
      `${url}/v1/responses`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-fake-behavior': behavior,
          ...(codex ? { originator: 'codex_cli_rs' } : {}),
        },
      },
      (res) => {
        const chunkTimes: number[] = [];
        let body = '';
        res.on('data', (chunk: Buffer) => {
          chunkTimes.push(performance.now());
          body += chunk.toString();
          firstChunk();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-creditgate-request-id']), body, chunkTimes, endedAt: performance.now() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-5', stream: true, input: `stream ${tag}` }));
  });
  done.finally(firstChunk).catch(() => undefined);
  return { firstChunk: first, done };
}

/** Samples /healthz every ~50 ms until stopped; resolves with each answer's latency (ms) and when it was sent. */
function sampleHealth(url: string): { stop: () => Promise<{ sent: number; ms: number }[]> } {
  const latencies: { sent: number; ms: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const sent = performance.now();
      const res = await rawRequest(`${url}/healthz`, { method: 'GET', timeoutMs: 5_000 });
      latencies.push({ sent, ms: performance.now() - sent });
      expect(res.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return latencies;
    },
  };
}

interface LedgerRows {
  usage: { request_id: string; estimated: number; reason: string | null; output_tokens: number }[];
  holds: number;
}

function ledgerRows(): LedgerRows {
  const db = new Database(databaseFile(), { readonly: true });
  try {
    return {
      usage: db.prepare('SELECT request_id, estimated, reason, output_tokens FROM usage ORDER BY id').all() as LedgerRows['usage'],
      holds: db.prepare<[], number>('SELECT count(*) FROM holds').pluck().get()!,
    };
  } finally {
    db.close();
  }
}

/** Each delivered stream charged exactly once, at the usage its upstream reported, and nothing left held. */
function expectChargedOnce(delivered: StreamResult[], outputTokens: number): void {
  const rows = ledgerRows();
  for (const s of delivered) {
    const charged = rows.usage.filter((row) => row.request_id === s.requestId);
    expect(charged, `charges of ${s.requestId}`).toHaveLength(1);
    expect(charged[0]).toMatchObject({ estimated: 0, reason: null, output_tokens: outputTokens });
  }
  expect(rows.holds).toBe(0);
}

const wasForwarded = (tag: string): boolean => upstream.requests.some((r) => r.body.includes(tag));

describe('a ledger locked by another process for 10 s', () => {
  it('keeps /healthz and streams live, refuses new requests with 503 ledger_busy, and charges every delivered stream once', async () => {
    freshAccount();
    const gateway = await startGateway();
    // ~6 s streams, well inside the lock: they end while it is held.
    const streams = [0, 1, 2].map((i) => stream(gateway.url, `inflight-${i}`, 'deltas=24,interval=250', i === 2));
    await Promise.all(streams.map((s) => s.firstChunk));

    const release = lockLedger();
    const lockedAt = performance.now();
    let releasedAt = Infinity;
    const health = sampleHealth(gateway.url);
    const answers: { tag: string; status: number; code: string | undefined; requestId: string; ms: number; at: number }[] = [];
    const newRequests: Promise<void>[] = [];
    const statusReads: { status: number; ms: number }[] = [];
    let journalSeen = false;
    try {
      // A new request every second until the lock goes.
      while (performance.now() - lockedAt < LOCK_MS - 300) {
        const tag = `new-${randomUUID()}`;
        const sent = performance.now();
        newRequests.push(
          rawRequest(`${gateway.url}/v1/chat/completions`, {
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: tag }] }),
          }).then((res) => {
            const code = (JSON.parse(res.body.toString()) as { error?: { code?: string } }).error?.code;
            const at = performance.now();
            answers.push({ tag, status: res.status, code, requestId: String(res.headers['x-creditgate-request-id']), ms: at - sent, at });
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        journalSeen ||= fs.existsSync(journalFile());
        // The status is a read: it never waits for the lock.
        const asked = performance.now();
        const status = await rawRequest(`${gateway.url}/creditgate/v1/status`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
        statusReads.push({ status: status.status, ms: performance.now() - asked });
      }
      const delivered = await Promise.all(streams.map((s) => s.done));
      for (const s of delivered) {
        expect(s.status).toBe(200);
        expect(s.body).toContain('response.completed');
        // Delivered in full while the lock was still held: their charges are kept, not lost.
        expect(s.endedAt - lockedAt).toBeLessThan(LOCK_MS);
        // Flowing all along: no gap much longer than the upstream's own 250 ms between events.
        const gaps = s.chunkTimes.slice(1).map((t, i) => t - s.chunkTimes[i]!);
        expect(Math.max(...gaps), `gaps between chunks: ${gaps.map(Math.round).join(' ')}`).toBeLessThan(750);
      }
      expect(ledgerRows().usage).toHaveLength(0); // nothing could be written yet...
      expect(journalSeen || fs.existsSync(journalFile())).toBe(true); // ...so the charges wait in the journal
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, LOCK_MS - (performance.now() - lockedAt))));
    } finally {
      release();
      releasedAt = performance.now();
    }
    await Promise.all(newRequests);
    const latencies = await health.stop();

    expect(latencies.length).toBeGreaterThan(LOCK_MS / 100);
    // Within 100 ms throughout. The machine running the tests is shared, and any process on it (this one
    // included) now and then loses the CPU for 50–100 ms: an isolated sample may, never by much. The busy
    // wait this guards against blocked for ledgerBusyTimeoutMs (1 s here) at every write.
    const slowest = [...latencies].sort((a, b) => b.ms - a.ms);
    const described = slowest.slice(0, 5).map((l) => `${Math.round(l.ms)} ms at ${Math.round(l.sent - lockedAt)}`).join(', ');
    expect(slowest.filter((l) => l.ms >= 100).length, `slowest /healthz answers (ms after the lock): ${described}`).toBeLessThanOrEqual(2);
    expect(slowest[0]!.ms, `slowest /healthz answers (ms after the lock): ${described}`).toBeLessThan(300);
    // A new request waits for its hold up to ledgerBusyTimeoutMs: refused unforwarded while the lock
    // stays, admitted (and charged once) if it goes meanwhile.
    const refused = answers.filter((a) => a.status !== 200);
    expect(statusReads.map((r) => r.status)).toEqual(statusReads.map(() => 200));
    expect(Math.max(...statusReads.map((r) => r.ms))).toBeLessThan(300);
    expect(refused.length).toBeGreaterThanOrEqual(7);
    for (const r of refused) {
      expect(r.status, r.tag).toBe(503);
      expect(r.code).toBe('ledger_busy');
      expect(r.ms).toBeGreaterThanOrEqual(PATIENCE_MS - 50);
      expect(r.ms).toBeLessThan(PATIENCE_MS + 500);
      expect(wasForwarded(r.tag)).toBe(false);
    }
    const admitted = answers.filter((a) => a.status === 200);
    for (const a of admitted) expect(a.at).toBeGreaterThan(releasedAt);
    const delivered = await Promise.all(streams.map((s) => s.done));
    await eventually(() => expectChargedOnce(delivered, 24), 3_000);
    const rows = ledgerRows();
    for (const a of admitted) expect(rows.usage.filter((row) => row.request_id === a.requestId)).toHaveLength(1);
    expect(rows.usage).toHaveLength(delivered.length + admitted.length);
    await eventually(() => expect(fs.existsSync(journalFile())).toBe(false));
    // And the gateway serves again at once.
    const after = await stream(gateway.url, 'after', 'deltas=2').done;
    expect(after.status).toBe(200);
    await eventually(() => expectChargedOnce([after], 2));
  }, 60_000);

  it('loses no charge kept while locked when the gateway is killed, or stopped, before the lock goes', async () => {
    freshAccount();
    for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
      const gateway = await startGateway();
      const streams = [0, 1].map((i) => stream(gateway.url, `${stop}-${i}`, 'deltas=6,interval=100', i === 1));
      await Promise.all(streams.map((s) => s.firstChunk));
      const rowsBefore = ledgerRows().usage.length;
      const release = lockLedger();
      let delivered: StreamResult[];
      try {
        delivered = await Promise.all(streams.map((s) => s.done));
        expect(delivered.map((s) => s.status)).toEqual([200, 200]);
        expect(fs.readFileSync(journalFile(), 'utf8').trim().split('\n')).toHaveLength(2);
        gateway.child.kill(stop);
        await gateway.exited;
        expect(ledgerRows().usage).toHaveLength(rowsBefore);
      } finally {
        release();
      }
      // The next start posts the kept charges (at their real usage, not the holds' estimates), once.
      const next = await startGateway();
      expectChargedOnce(delivered, 6);
      expect(fs.existsSync(journalFile())).toBe(false);
      expect(ledgerRows().usage).toHaveLength(rowsBefore + 2);
      next.child.kill('SIGTERM');
      await next.exited;
    }
  }, 60_000);
});
