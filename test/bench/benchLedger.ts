/**
 * Where the benchmarked gateway keeps its ledger (`--store`): the embedded SQLite file in its data
 * directory (the default), or a throwaway PostgreSQL server on loopback that the benchmark starts
 * and stops itself, as the team tests do (docs/product.md §8). The gateway then runs as one team
 * instance (`serve --database URL`) on a migrated database; everything else about the run is the same.
 */
import { startPostgres, type PostgresServer } from '../helpers/postgres';
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
  /** Stops the server and removes its files (synchronous: it runs from process 'exit' too). */
  close(): void;
}

export function parseStore(value: string): StoreName {
  if (!(STORES as readonly string[]).includes(value)) throw new Error(`--store takes ${STORES.join(' or ')}`);
  return value as StoreName;
}

export async function openBenchLedger(store: StoreName, durable: boolean): Promise<BenchLedger> {
  if (store === 'sqlite') return { store, args: [], durable: null, serverCpuMs: null, close: () => undefined };
  const server: PostgresServer = await startPostgres({ durable });
  try {
    const url = await server.createDatabase('creditgate_bench');
    const pid = server.serverPid();
    if (pid === null) throw new Error('the PostgreSQL server started but names no postmaster pid');
    return { store, args: ['--database', url], durable, serverCpuMs: () => treeCpuMs(pid), close: () => server.close() };
  } catch (error) {
    server.close();
    throw error;
  }
}
