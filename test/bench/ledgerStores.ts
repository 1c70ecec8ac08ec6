/**
 * `npm run bench:ledger -- --store postgres`: admit+post pairs per second from several processes on
 * one ledger, each keeping many pairs in flight as a busy gateway does, on three set-ups in the same
 * run: the PostgreSQL store (group commit), the SQLite store (group commit, one file), and a naive
 * PostgreSQL baseline (the same store with every admit and post a transaction of its own). Absolute
 * rates differ several-fold between machines; the ratios are what the targets are about.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresLedger } from '../../proxy/ledger/postgres/postgresLedger';
import { SqliteBook } from '../../proxy/ledger/sqliteBook';
import type { LedgerBook } from '../../proxy/ledger/book';
import { startPostgres } from '../helpers/postgres';
import { releaseTogether } from '../helpers/workers';
import { treeCpuMs } from './procStats';
import { BENCH_RATE_CARD } from './ledgerBenchWorkload';

const WORKER = join(__dirname, 'ledgerStoreWorker.ts');

export interface StoreRate {
  pairsPerSec: number;
  /** CPU of the ledger's client processes (not the database server's) per pair. */
  cpuUsPerPair: number;
  /** CPU of the PostgreSQL server's processes per pair, beside the clients'; null for SQLite (in the clients). */
  serverCpuUsPerPair: number | null;
}

export interface StoreComparison {
  processes: number;
  inFlight: number;
  seconds: number;
  /** Whether the PostgreSQL server fsyncs its commits (as in production). */
  durable: boolean;
  postgres: StoreRate;
  sqlite: StoreRate;
  naive: StoreRate;
}

export interface CompareOptions {
  processes: number;
  inFlight: number;
  seconds: number;
  durable: boolean;
  progress: (line: string) => void;
}

export async function compareStores(options: CompareOptions): Promise<StoreComparison> {
  const server = await startPostgres({ durable: options.durable });
  const dir = mkdtempSync(join(tmpdir(), 'creditgate-store-bench-'));
  try {
    const serverPid = server.serverPid();
    const serverCpuMs = (): number => (serverPid === null ? 0 : treeCpuMs(serverPid));
    const run = async (name: string, where: string, open: () => Promise<LedgerBook>, maxBatch?: number): Promise<StoreRate> => {
      // A fresh ledger with credits for every pair and a plan, so nothing is ever blocked.
      const ledger = await open();
      await ledger.setPlan('pro');
      await ledger.addCredits({ amount: 1_000_000 * 1_000_000, idempotencyKey: 'bench', source: 'admin' });
      await ledger.close();
      const serverBefore = serverCpuMs();
      const { pairs, ...measured } = await runProcesses(where, options, maxBatch);
      const rate = { ...measured, serverCpuUsPerPair: where.startsWith('postgres://') ? ((serverCpuMs() - serverBefore) * 1_000) / pairs : null };
      const onServer = rate.serverCpuUsPerPair === null ? '' : ` (+ ${rate.serverCpuUsPerPair.toFixed(1)} µs on the database server)`;
      options.progress(`${name}: ${Math.round(rate.pairsPerSec).toLocaleString('en-US')} pairs/s, ${rate.cpuUsPerPair.toFixed(1)} µs CPU per pair${onServer}`);
      return rate;
    };
    const pgUrl = await server.createDatabase('bench_grouped');
    const naiveUrl = await server.createDatabase('bench_naive');
    const path = join(dir, 'ledger.db');
    const postgres = await run('postgres', pgUrl, () => PostgresLedger.open({ url: pgUrl, rateCard: BENCH_RATE_CARD }));
    const sqlite = await run('sqlite', path, () => Promise.resolve(SqliteBook.open({ path, rateCard: BENCH_RATE_CARD })));
    const naive = await run('postgres, one transaction per write', naiveUrl, () => PostgresLedger.open({ url: naiveUrl, rateCard: BENCH_RATE_CARD }), 1);
    return { processes: options.processes, inFlight: options.inFlight, seconds: options.seconds, durable: options.durable, postgres, sqlite, naive };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the workers, releases them together, and adds up what they did. */
async function runProcesses(where: string, options: CompareOptions, maxBatch: number | undefined): Promise<{ pairs: number; pairsPerSec: number; cpuUsPerPair: number }> {
  const args = [where, String(options.seconds), String(options.inFlight), ...(maxBatch === undefined ? [] : [String(maxBatch)])];
  const workers = Array.from({ length: options.processes }, () =>
    spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  let started = 0;
  const done = await releaseTogether<{ pairs: number; cpuUs: number }>(workers, () => (started = performance.now()));
  const seconds = (performance.now() - started) / 1_000;
  const pairs = done.reduce((sum, r) => sum + r.pairs, 0);
  const cpuUs = done.reduce((sum, r) => sum + r.cpuUs, 0);
  return { pairs, pairsPerSec: pairs / seconds, cpuUsPerPair: cpuUs / pairs };
}
