/**
 * The throwaway PostgreSQL server the team-store tests stand on: it is a real server (locks and
 * LISTEN/NOTIFY across connections), it stops and starts under a client, and it leaves nothing behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from './helpers/postgres';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(() => server?.close());

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('throwaway PostgreSQL', () => {
  it('serves a database of its own per test, with row locks between connections', async () => {
    const url = await server.createDatabase();
    const [a, b] = [await connect(url), await connect(url)];
    try {
      await a.query('CREATE TABLE pool (id int PRIMARY KEY, available bigint NOT NULL)');
      await a.query('INSERT INTO pool VALUES (1, 100)');
      await a.query('BEGIN');
      await a.query('UPDATE pool SET available = available - 60 WHERE id = 1 AND available >= 60');
      // b's conditional spend waits for a's lock, then sees a's committed result and takes nothing.
      const waiting = b.query('UPDATE pool SET available = available - 60 WHERE id = 1 AND available >= 60 RETURNING available');
      await new Promise((resolve) => setTimeout(resolve, 100));
      await a.query('COMMIT');
      expect((await waiting).rowCount).toBe(0);
      expect((await a.query('SELECT available FROM pool')).rows[0].available).toBe('40');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('delivers NOTIFY to another connection', async () => {
    const url = await server.createDatabase();
    const [listener, notifier] = [await connect(url), await connect(url)];
    try {
      await listener.query('LISTEN creditgate_status');
      const received = new Promise<string | undefined>((resolve) => listener.on('notification', (message) => resolve(message.payload)));
      await notifier.query("SELECT pg_notify('creditgate_status', 'changed')");
      expect(await received).toBe('changed');
    } finally {
      await listener.end();
      await notifier.end();
    }
  });

  it('stops and starts under its clients', async () => {
    const url = await server.createDatabase();
    server.stopServer();
    await expect(connect(url)).rejects.toThrow();
    server.startServer();
    const client = await connect(url);
    expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await client.end();
  });

  it('leaves no directory behind', async () => {
    const other = await startPostgres();
    // Its own directory, not a count of the temporary folder: other test files start and close
    // servers of their own at the same time.
    expect(path.dirname(other.directory)).toBe(os.tmpdir());
    expect(fs.existsSync(path.join(other.directory, 'data', 'PG_VERSION'))).toBe(true);
    other.close();
    expect(fs.existsSync(other.directory)).toBe(false);
  }, 60_000);
});
