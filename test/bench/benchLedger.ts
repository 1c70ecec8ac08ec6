/**
 * Where the benchmarked gateway keeps its ledger (`--store`): the embedded SQLite file in its data
 * directory (the default), or a throwaway PostgreSQL server on loopback that the benchmark starts
 * and stops itself, as the team tests do (docs/product.md §8). The gateway then runs as one team
 * instance (`serve --database URL`) on a migrated database; everything else about the run is the same.
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { percentile } from './loadClient';
import { treeCpuMs } from './procStats';

export const STORES = ['sqlite', 'postgres'] as const;
export type StoreName = (typeof STORES)[number];

export interface BenchLedger {
  store: StoreName;
  /** Added to every `creditgate` command (migrate, token, credits, serve) to reach the ledger. */
  args: string[];
  /** Whether the database server flushes every commit (PostgreSQL's default); null for SQLite. */
  durable: boolean | null;
  /** CPU the database server's processes have used so far, in ms; null when the ledger is in the gateway's own process. */
  serverCpuMs: (() => number) | null;
  /**
   * The p50 round trip of a one-row INSERT committed on its own on the same server, in ms: the least
   * any durable write costs here (null for SQLite). A metered request waits for two.
   */
  durableCommitMs: (() => Promise<number>) | null;
  /** Stops the server and removes its files (synchronous: it runs from process 'exit' too). */
  close(): void;
}

export function parseStore(value: string): StoreName {
  if (!(STORES as readonly string[]).includes(value)) throw new Error(`--store takes ${STORES.join(' or ')}`);
  return value as StoreName;
}

export async function openBenchLedger(store: StoreName, durable: boolean): Promise<BenchLedger> {
  if (store === 'sqlite') return { store, args: [], durable: null, serverCpuMs: null, durableCommitMs: null, close: () => undefined };
  const server: PostgresServer = await startPostgres({ durable });
  try {
    const url = await server.createDatabase('creditgate_bench');
    const pid = server.serverPid();
    if (pid === null) throw new Error('the PostgreSQL server started but names no postmaster pid');
    return { store, args: ['--database', url], durable, serverCpuMs: () => treeCpuMs(pid), durableCommitMs: () => durableCommitMs(url), close: () => server.close() };
  } catch (error) {
    server.close();
    throw error;
  }
}

/** Round trips measured, after as many unmeasured ones to warm the connection. */
const COMMIT_SAMPLES = 2_000;

async function durableCommitMs(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // A permanent table (a temporary one's rows are not WAL-logged), dropped afterwards.
    await client.query('CREATE TABLE IF NOT EXISTS bench_commit_floor (id integer PRIMARY KEY)');
    const times: number[] = [];
    for (let i = 0; i < 2 * COMMIT_SAMPLES; i++) {
      const start = performance.now();
      await client.query('INSERT INTO bench_commit_floor VALUES ($1)', [i]);
      if (i >= COMMIT_SAMPLES) times.push(performance.now() - start);
    }
    return percentile(times, 50)!;
  } finally {
    await client.query('DROP TABLE IF EXISTS bench_commit_floor').catch(() => undefined);
    await client.end();
  }
}
