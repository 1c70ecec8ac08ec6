/**
 * The CLI on a team ledger (docs/product.md §8): every command takes `--database URL` (or
 * CREDITGATE_DATABASE_URL), migrates the schema when needed and safely when several run at once, and
 * a wrong URL or a newer schema fails with one clear line that never shows the password.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cli } from './helpers/cliProcess';
import { TEST_CLI } from './helpers/buildCli';
import type { PostgresServer } from './helpers/postgres';
import { queryDatabase, startPostgres } from './helpers/postgres';
import { PG_SCHEMA_VERSION } from '../proxy/ledger/postgres/schema';

let server: PostgresServer;
let url: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server.close());

beforeEach(async () => {
  url = await server.createDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-team-cli-'));
  env = { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '', CREDITGATE_DATABASE_URL: '' };
});

/** `creditgate` as a child process that does not block this one (two must run at once). */
function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TEST_CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const sql = <T>(query: string): Promise<T[]> => queryDatabase<T>(url, query);

/** Takes schema 6 out (writePathSchema.ts): what a ledger written before version 6 is. */
const WITHOUT_WRITE_PATH = `DROP TABLE held_totals; DROP FUNCTION creditgate_holds_unchanged CASCADE;
  ALTER TABLE holds ADD CONSTRAINT holds_seat_fkey FOREIGN KEY (seat) REFERENCES seats (name);
  ALTER TABLE usage ADD CONSTRAINT usage_seat_fkey FOREIGN KEY (seat) REFERENCES seats (name);
  DROP INDEX usage_ts; CREATE INDEX usage_ts ON usage (ts);`;

describe('creditgate --database (PostgreSQL)', () => {
  it('migrates, and two migrate commands at once apply the schema once', async () => {
    const results = await Promise.all([cliAsync(['--database', url, 'migrate']), cliAsync(['--database', url, 'migrate'])]);
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`ledger schema up to date: ${url}`);
    }
    expect(await sql<{ version: number }>('SELECT version FROM creditgate_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
  });

  it('brings a ledger written at schema version 3 (before its read and write were functions) up to date, its rows intact', async () => {
    const at = ['--database', url];
    expect(cli([...at, 'credits', 'add', '7', '--key', 'before'], env).status).toBe(0);
    // What a version-3 database is: the same tables, without schema 4's functions.
    await sql(`${WITHOUT_WRITE_PATH} DROP FUNCTION creditgate_commit, creditgate_load, creditgate_flush, creditgate_seats, creditgate_live_grants, creditgate_held;
               ALTER TABLE account DROP COLUMN commit_id; UPDATE creditgate_schema SET version = 3`);
    // Every command (and `serve`) migrates the ledger it opens before using it.
    expect(cli([...at, 'credits', 'add', '3', '--key', 'after'], env).status).toBe(0);
    expect(await sql<{ version: number }>('SELECT version FROM creditgate_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
    const status = JSON.parse(cli([...at, 'status', '--json'], env).stdout) as { credits: { balance: number } };
    expect(status.credits.balance).toBe(10);
    expect(JSON.parse(cli([...at, 'verify', '--json'], env).stdout)).toEqual({ ok: true, problems: [] });
  });

  it('brings a ledger written at schema version 4 (before its commit checked the revision) up to date, its rows intact', async () => {
    const at = ['--database', url];
    expect(cli([...at, 'credits', 'add', '7', '--key', 'before'], env).status).toBe(0);
    // What a version-4 database is: the same tables and functions, without schema 5's creditgate_commit
    // and commit_id (its versions of the other functions behave as version 4's).
    await sql(`${WITHOUT_WRITE_PATH} DROP FUNCTION creditgate_commit; ALTER TABLE account DROP COLUMN commit_id; UPDATE creditgate_schema SET version = 4`);
    expect(cli([...at, 'credits', 'add', '3', '--key', 'after'], env).status).toBe(0);
    expect(await sql<{ version: number }>('SELECT version FROM creditgate_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
    expect(await sql<{ proname: string }>("SELECT proname FROM pg_proc WHERE proname = 'creditgate_commit'")).toHaveLength(1);
    const status = JSON.parse(cli([...at, 'status', '--json'], env).stdout) as { credits: { balance: number } };
    expect(status.credits.balance).toBe(10);
    expect(JSON.parse(cli([...at, 'verify', '--json'], env).stdout)).toEqual({ ok: true, problems: [] });
  });

  it('keeps the account on the server: credits, plan, windows and tokens from any command', () => {
    const at = ['--database', url];
    expect(cli([...at, 'credits', 'add', '12.5', '--key', 'first'], env).status).toBe(0);
    expect(cli([...at, 'credits', 'add', '12.5', '--key', 'first'], env).status).toBe(0); // the same purchase again
    expect(cli([...at, 'plan', 'set', 'pro'], env).status).toBe(0);
    const status = JSON.parse(cli([...at, 'status', '--json'], env).stdout) as { plan: string; credits: { balance: number } };
    expect(status.plan).toBe('pro');
    expect(status.credits.balance).toBe(12.5);
    const grants = JSON.parse(cli([...at, 'credits', 'list', '--json'], env).stdout) as { idempotencyKey: string; amount: number }[];
    expect(grants.map((g) => [g.idempotencyKey, g.amount])).toEqual([['first', 12.5]]);
    const token = cli([...at, 'token', '--name', 'laptop'], env).stdout.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^cg_/);
    // The environment variable names the same ledger.
    const viaEnv = cli(['status', '--json'], { ...env, CREDITGATE_DATABASE_URL: url });
    expect((JSON.parse(viaEnv.stdout) as { credits: { balance: number } }).credits.balance).toBe(12.5);
    const verified = cli([...at, 'verify', '--json'], env);
    expect([verified.status, JSON.parse(verified.stdout)]).toEqual([0, { ok: true, problems: [] }]);
  });

  it('fails with one line naming the server without its password when it cannot be reached', () => {
    const unreachable = 'postgres://alice:s3cret-pw@127.0.0.1:1/team';
    const result = cli(['--database', unreachable, 'status'], env);
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('127.0.0.1:1/team');
    expect(result.stderr).not.toContain('s3cret-pw');
  });

  it('refuses a URL that is not postgres:// and a schema written by a newer Creditgate', async () => {
    const wrong = cli(['--database', 'mysql://db/x', 'status'], env);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('postgres://');
    expect(cli(['--database', url, 'migrate'], env).status).toBe(0);
    await sql('UPDATE creditgate_schema SET version = 99');
    const newer = cli(['--database', url, 'status'], env);
    expect(newer.status).not.toBe(0);
    expect(newer.stderr).toContain('newer than this Creditgate understands');
  });
});
