/**
 * One process of the multi-process ledger benchmark (ledgerStores.ts): opens the ledger (a SQLite
 * file, or a PostgreSQL URL), prints "ready", starts on a line from stdin, keeps `inFlight`
 * admit+post pairs going for `seconds`, and prints {"pairs","cpuUs"} on its last line.
 *   ledgerStoreWorker <path|url> <seconds> <inFlight> [maxBatch]
 */
import { randomUUID } from 'node:crypto';
import type { LedgerBook } from '../../proxy/ledger/book';
import { PostgresLedger } from '../../proxy/ledger/postgres/postgresLedger';
import { SqliteBook } from '../../proxy/ledger/sqliteBook';
import { BENCH_RATE_CARD, BENCH_REQUEST, BENCH_USAGE } from './ledgerBenchWorkload';

const [where = '', seconds = '3', inFlight = '64', maxBatch] = process.argv.slice(2);

/** node-postgres' default pool size. */
const NAIVE_CONNECTIONS = 10;

async function open(): Promise<LedgerBook> {
  if (where.startsWith('postgres://')) {
    // The naive baseline: every write a transaction of its own, ten at a time, as an application on a
    // connection pool without group commit would do.
    const naive = maxBatch === undefined ? {} : { maxBatch: Number(maxBatch), writeConnections: NAIVE_CONNECTIONS };
    return PostgresLedger.open({ url: where, rateCard: BENCH_RATE_CARD, readConnections: 1, ...naive });
  }
  return SqliteBook.open({ path: where, rateCard: BENCH_RATE_CARD });
}

async function main(): Promise<void> {
  const ledger = await open();
  console.log('ready');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  const deadline = performance.now() + Number(seconds) * 1_000;
  const cpuStart = process.cpuUsage();
  let pairs = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      // As a gateway's requests are: each its own id, and answers of different lengths.
      const admission = await ledger.admit({ ...BENCH_REQUEST, requestId: randomUUID() });
      if (!admission.admitted) throw new Error(`bench request was blocked: ${admission.reason}`);
      await ledger.post(admission.holdId, { usage: { ...BENCH_USAGE, outputTokens: 20 + (pairs % 400) } });
      pairs++;
    }
  };
  await Promise.all(Array.from({ length: Number(inFlight) }, loop));
  const cpu = process.cpuUsage(cpuStart);
  console.log(JSON.stringify({ pairs, cpuUs: cpu.user + cpu.system }));
  await ledger.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
