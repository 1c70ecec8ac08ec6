/**
 * The PostgreSQL store acknowledges a write only once it is on disk, although its commit releases the
 * account row's lock before the WAL flush (postgres/flush.ts DURABLE_COMMIT): the server is killed
 * (immediate shutdown: WAL still in its buffers is lost, as in a crash) while admissions stream in, and
 * every admission that was acknowledged must still hold after the restart.
 */
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLedger } from '../proxy/ledger/postgres/postgresLedger';
import { RATE_CARD, request } from './fixtures/ledger-setup';
import type { PostgresServer } from './helpers/postgres';
import { startPostgres } from './helpers/postgres';

let server: PostgresServer;
let url: string;
beforeAll(async () => {
  server = await startPostgres({ durable: true });
  url = await server.createDatabase();
}, 120_000);
afterAll(() => server?.close());

describe('the PostgreSQL store across a server crash', () => {
  it('keeps every admission it acknowledged', async () => {
    const ledger = await PostgresLedger.open({ url, rateCard: RATE_CARD, initialPlan: 'free' });
    await ledger.addCredits({ amount: 1_000_000_000, idempotencyKey: 'pool', source: 'purchase' });
    const acknowledged: number[] = [];
    let crashed = false;
    const stream = async (): Promise<void> => {
      while (!crashed) {
        try {
          const admission = await ledger.admit(request(10));
          if (admission.admitted) acknowledged.push(admission.holdId);
        } catch {
          return; // the server is gone
        }
      }
    };
    const streams = Array.from({ length: 32 }, stream);
    while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 5));
    server.stopServer();
    crashed = true;
    // Answers the server sent before it died still count: each is an acknowledgement.
    await Promise.all(streams);
    await ledger.close().catch(() => undefined);

    server.startServer();
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string }>('SELECT id FROM holds');
      const held = new Set(rows.map((row) => Number(row.id)));
      expect(acknowledged.filter((id) => !held.has(id))).toEqual([]);
    } finally {
      await client.end();
    }
    const reopened = await PostgresLedger.open({ url, rateCard: RATE_CARD, initialPlan: 'free' });
    try {
      expect(await reopened.checkBooks()).toEqual([]);
    } finally {
      await reopened.close();
    }
  }, 120_000);
});
