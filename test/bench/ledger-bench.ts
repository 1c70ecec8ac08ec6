/**
 * Ledger benchmark: admit+post throughput on a file on disk, and status() latency with 1,000,000 usage
 * rows. `npm run bench:ledger -- --json` prints `{"admitPostPerSec","statusMsAt1M"}` as its last line.
 *
 * Options: --seconds N (throughput phase length, default 3), --rows N (seeded rows, default 1,000,000),
 * --dir DIR (where the database goes; default a fresh directory under the OS temp dir, on disk here).
 *
 * `--store postgres` measures the team store instead (ledgerStores.ts): pairs per second from
 * --processes N (default 3) processes with --in-flight N (default 64) pairs each, on PostgreSQL, on
 * SQLite and on a naive PostgreSQL baseline in the same run, and prints
 * `{"store":"postgres","admitPostPerSec",…,"vsSqlite","vsNaive"}` as its last line. --fsync off runs
 * the server without fsync (default on, as in production).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { RateCard } from '../../shared/rateCard';
import type { MeteredUsage } from '../../shared/usage';
import { Ledger } from '../../proxy/ledger/ledger';
import { compareStores, type StoreRate } from './ledgerStores';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '3' },
    rows: { type: 'string', default: '1000000' },
    dir: { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    processes: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '64' },
    fsync: { type: 'string', default: 'on' },
  },
});

const RATE_CARD: RateCard = {
  version: 'bench',
  creditUsd: 0.04,
  models: { 'bench-model': { feature: 'assistant', input: 1.25, cached_input: 0.125, output: 10 } },
  default: null,
  packs: [],
};
const USAGE: MeteredUsage = { vendor: 'openai', inputTokens: 1_000, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 100, reasoningTokens: 0 };
const REQUEST = { requestId: 'bench', client: 'bench', model: 'bench-model', route: '/v1/responses', feature: 'assistant', estimate: 3_000 };

/** Fills the usage table with `rows` rows spread over the last ~29 days, in one statement. */
function seedUsage(path: string, rows: number, now: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO usage (ts, hold_id, request_id, client, feature, model, route, status, input_tokens,
       cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost, plan_cost, credit_cost, estimated, reason)
     SELECT ? - (? - i) * 2500, i, 'seed', 'client-' || (i % 4), 'assistant',
       CASE i % 3 WHEN 0 THEN 'gpt-5' WHEN 1 THEN 'claude-sonnet-4-5' ELSE 'bench-model' END,
       '/v1/responses', 200, 1000, 0, 0, 100, 0, 2250, 2250, 0, 0, NULL FROM n`,
  ).run(rows, now, rows);
  // As if the ledger had posted them: its stored totals include these rows (readers fold only later ones).
  db.prepare('UPDATE account SET last_usage_ts = ?, totals_usage_id = (SELECT max(id) FROM usage)').run(now);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measureStatus(ledger: Ledger, calls: number): number {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    ledger.status();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/**
 * status() when another process has just written, so the cached totals must be re-read: the CLI
 * and a second gateway window see this path.
 */
function measureColdStatus(ledger: Ledger, path: string, calls: number): number {
  const other = new Database(path);
  const poke = other.prepare("INSERT INTO audit (ts, actor, action, detail) VALUES (0, 'bench', 'poke', '{}')");
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    poke.run();
    const start = performance.now();
    ledger.status();
    samples.push(performance.now() - start);
  }
  other.close();
  return median(samples);
}

interface PairRate {
  perSec: number;
  /** User + system CPU per pair: steadier than wall time when other processes share the cores. */
  cpuUsPerPair: number;
}

/** Admit+post pairs per second over `seconds`; credit-path when the plan gives no allowance. */
function measurePairs(ledger: Ledger, seconds: number): PairRate {
  const deadline = performance.now() + seconds * 1_000;
  let pairs = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i++) {
      const admission = ledger.admit(REQUEST);
      if (!admission.admitted) throw new Error(`bench request was blocked: ${admission.reason}`);
      ledger.post(admission.holdId, { usage: USAGE });
    }
    pairs += 100;
  }
  const cpu = process.cpuUsage(cpuStart);
  return { perSec: pairs / ((performance.now() - start) / 1_000), cpuUsPerPair: (cpu.user + cpu.system) / pairs };
}

function describeRate(rate: PairRate): string {
  return `${Math.round(rate.perSec).toLocaleString('en-US')} pairs/s (${rate.cpuUsPerPair.toFixed(1)} µs CPU per pair)`;
}

function main(): void {
  const seconds = Number(args.seconds);
  const rows = Number(args.rows);
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'creditgate-ledger-bench-'));
  const path = join(dir, 'ledger.db');
  const now = Date.now();
  try {
    // Open once to create the schema, then seed with a raw connection.
    Ledger.open({ path, rateCard: RATE_CARD }).close();
    const seedStart = performance.now();
    seedUsage(path, rows, now);
    const seedMs = performance.now() - seedStart;

    const openStart = performance.now();
    const ledger = Ledger.open({ path, rateCard: RATE_CARD, initialPlan: 'pro' });
    const openMs = performance.now() - openStart;
    ledger.addCredits({ amount: 1_000_000 * 1_000_000, idempotencyKey: 'bench', source: 'admin' });
    const statusMs = measureStatus(ledger, 2_000);
    const coldStatusMs = measureColdStatus(ledger, path, 500);
    const planPairs = measurePairs(ledger, seconds);
    ledger.setPlan('free');
    const creditPairs = measurePairs(ledger, seconds);
    const statusAfterMs = measureStatus(ledger, 2_000);
    ledger.close();

    const table: [string, string][] = [
      ['seeded usage rows', `${rows.toLocaleString('en-US')} in ${(seedMs / 1_000).toFixed(1)} s`],
      ['Ledger.open()', `${openMs.toFixed(1)} ms`],
      ['status() median', `${statusMs.toFixed(3)} ms`],
      ['status() after a write', `${coldStatusMs.toFixed(3)} ms (another process wrote)`],
      ['admit+post on plan', describeRate(planPairs)],
      ['admit+post on credits', describeRate(creditPairs)],
      ['status() median after', `${statusAfterMs.toFixed(3)} ms`],
      ['database', path],
    ];
    for (const [label, value] of table) console.log(`${label.padEnd(24)} ${value}`);
    if (args.json) {
      // Contract: the slower of each, so the figures are floors, not best cases.
      const statusMsAt1M = Number(Math.max(statusMs, coldStatusMs).toFixed(3));
      console.log(JSON.stringify({ admitPostPerSec: Math.round(Math.min(planPairs.perSec, creditPairs.perSec)), statusMsAt1M }));
    }
  } finally {
    if (!args.dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function mainStores(): Promise<void> {
  const result = await compareStores({
    processes: Number(args.processes),
    inFlight: Number(args['in-flight']),
    seconds: Number(args.seconds),
    durable: args.fsync !== 'off',
    progress: (line) => console.log(line),
  });
  const vsSqlite = result.postgres.pairsPerSec / result.sqlite.pairsPerSec;
  const vsNaive = result.postgres.pairsPerSec / result.naive.pairsPerSec;
  console.log(`postgres / sqlite ${vsSqlite.toFixed(2)}× (target ≥ 0.5×), postgres / naive ${vsNaive.toFixed(2)}× (target ≥ 3×)`);
  if (args.json) {
    const round = (rate: StoreRate) => ({
      pairsPerSec: Math.round(rate.pairsPerSec),
      cpuUsPerPair: Number(rate.cpuUsPerPair.toFixed(1)),
      serverCpuUsPerPair: rate.serverCpuUsPerPair === null ? null : Number(rate.serverCpuUsPerPair.toFixed(1)),
    });
    console.log(
      JSON.stringify({
        store: 'postgres',
        admitPostPerSec: Math.round(result.postgres.pairsPerSec),
        processes: result.processes,
        inFlight: result.inFlight,
        fsync: result.durable,
        postgres: round(result.postgres),
        sqlite: round(result.sqlite),
        naive: round(result.naive),
        vsSqlite: Number(vsSqlite.toFixed(2)),
        vsNaive: Number(vsNaive.toFixed(2)),
      }),
    );
  }
}

if (args.store === 'postgres') {
  mainStores().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else if (args.store === 'sqlite') {
  main();
} else {
  throw new Error(`--store must be sqlite or postgres, got ${args.store}`);
}
