/**
 * What the gateway benchmark's `--store postgres` rests on: the targets it checks per store (issue 10's
 * looser PostgreSQL limits, the SQLite ones unchanged), and the database server's CPU, read from its
 * process tree (a backend per connection under the postmaster), which must see work done on a connection.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeCpuMs } from './bench/procStats';
import { checkTargets, STORE_LIMITS, type PhaseMetrics, type TargetMetrics } from './bench/report';
import { startPostgres, type PostgresServer } from './helpers/postgres';

const metrics = (fields: Partial<TargetMetrics>): TargetMetrics => ({
  p50Ms: null, p99Ms: null, rps: null, cpuMsPerReq: null, ttfbP50Ms: null, ttfbP99Ms: null, rssMiB: null, ...fields,
});

/** A c1 phase where the gateway adds 0.4 ms and 2.2× the forwarder's CPU. */
const c1: PhaseMetrics = {
  direct: metrics({ p50Ms: 0.1, cpuMsPerReq: 0.05 }),
  raw: metrics({ p50Ms: 0.3, cpuMsPerReq: 0.2 }),
  gateway: metrics({ p50Ms: 0.7, cpuMsPerReq: 0.44 }),
};

describe('the benchmark targets per store', () => {
  it('holds the gateway on SQLite to raw + 0.3 ms and 2× CPU, and on PostgreSQL to raw + 0.5 ms and 2.5×', () => {
    const verdicts = (store: keyof typeof STORE_LIMITS) => checkTargets({ c1 }, STORE_LIMITS[store]).map((check) => [check.name, check.pass]);
    expect(verdicts('sqlite')).toEqual([
      ['c1 latency p50 ≤ raw + 0.3 ms', false],
      ['c1 CPU per request ≤ 2× raw', false],
    ]);
    expect(verdicts('postgres')).toEqual([
      ['c1 latency p50 ≤ raw + 0.5 ms', true],
      ['c1 CPU per request ≤ 2.5× raw', true],
    ]);
  });
});

describe("the database server's CPU", () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.close());

  it("counts a backend's work in the postmaster's tree", async () => {
    const pid = server.serverPid();
    expect(pid).not.toBeNull();
    const client = new Client({ connectionString: server.url });
    await client.connect();
    try {
      const before = treeCpuMs(pid!);
      // ~0.2 s of CPU in the backend serving this connection, a child of the postmaster.
      await client.query('SELECT count(*) FROM generate_series(1, 3000000)');
      expect(treeCpuMs(pid!) - before).toBeGreaterThanOrEqual(50);
    } finally {
      await client.end();
    }
  });

  it('names no pid once the server is stopped', () => {
    server.stopServer();
    expect(server.serverPid()).toBeNull();
    server.startServer();
    expect(server.serverPid()).not.toBeNull();
  });
});
