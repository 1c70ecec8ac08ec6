/**
 * Red team: hygiene. Each attack here worked before: the ledger and the lock file were readable by
 * every local user; /healthz told any local process the gateway's pid and data directory; a model
 * name carrying terminal escapes repainted `creditgate usage`; a truncated ledger file silently became
 * a new, empty account; a purchase key reused for another amount answered "done" and recorded nothing;
 * and every ledger failure read "internal error", its cause only in the log.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startFakeUpstream, type FakeUpstream } from '../fake-upstream';
import { TEST_CLI } from '../helpers/buildCli';
import { cli, serve, type RunAs, type ServeProcess, killServeProcesses } from '../helpers/cliProcess';
import { startTestGateway, type TestGateway } from '../helpers/testGateway';

const ESC = '\u001b';
const HOSTILE_MODEL = `gpt-5${ESC}[31mRED${ESC}]0;pwned\u0007`;
const USAGE = JSON.stringify({ input_tokens: 1000, output_tokens: 400 });
/** Prices any model, so a hostile name reaches the ledger as a real client's would. */
const ANY_MODEL_CARD = {
  version: 'red-team',
  creditUsd: 0.04,
  models: {},
  default: { feature: 'assistant', input: 1, output: 2 },
  packs: [],
};

let upstream: FakeUpstream;
let dataDir: string;
let env: NodeJS.ProcessEnv;
const dirs: string[] = [];
const servers: ServeProcess[] = [];
let gw: TestGateway | null = null;

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => upstream.close());
afterEach(async () => {
  await killServeProcesses(servers);
  await gw?.close();
  gw = null;
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A data directory that does not exist yet, under a fresh folder that also holds the config file. */
function freshAccount(config: Record<string, unknown> = {}): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-hygiene-'));
  dirs.push(root);
  dataDir = path.join(root, 'data');
  const configFile = path.join(root, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ plan: 'plus', ...config }));
  env = {
    CREDITGATE_DATA_DIR: dataDir,
    CREDITGATE_CONFIG: configFile,
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
  };
}

async function start(as: RunAs | null = null): Promise<ServeProcess> {
  const server = await serve([], env, as);
  servers.push(server);
  return server;
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1)!;
const newToken = (name: string, admin = false, as: RunAs | null = null): string =>
  lastLine(cli(['token', '--name', name, ...(admin ? ['--admin'] : [])], env, as).stdout);
const balance = (): number => (JSON.parse(cli(['status', '--json'], env).stdout) as { credits: { balance: number } }).credits.balance;
const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;
const databaseFile = (): string => path.join(dataDir, 'creditgate.db');

function chat(url: string, token: string, model = 'gpt-5') {
  return rawRequest(`${url}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-fake-usage': USAGE },
    body: JSON.stringify({ model, max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function messages(url: string, token: string) {
  return rawRequest(`${url}/v1/messages`, {
    headers: { 'x-api-key': token, 'content-type': 'application/json', 'x-fake-usage': USAGE },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function addCredits(url: string, token: string, body: Record<string, unknown>) {
  return rawRequest(`${url}/creditgate/v1/credits`, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const jsonOf = (res: { body: Buffer }): unknown => JSON.parse(res.body.toString());

/** Runs `work` with the process umask set to `mask` (children spawned meanwhile inherit it). */
function withUmask<T>(mask: number, work: () => T): T {
  const previous = process.umask(mask);
  try {
    return work();
  } finally {
    process.umask(previous);
  }
}

describe('the data directory and its files are private', () => {
  it('creates the directory 0700 and the ledger, its -wal and -shm and the lock file 0600, even under umask 000', async () => {
    freshAccount({ rateCard: ANY_MODEL_CARD });
    const token = withUmask(0, () => newToken('agent'));
    const server = await withUmask(0, () => start());
    expect((await chat(server.url, token)).status).toBe(200);

    expect(modeOf(dataDir)).toBe(0o700);
    const files = fs.readdirSync(dataDir).sort();
    expect(files).toEqual(['creditgate.db', 'creditgate.db-shm', 'creditgate.db-wal', 'gateway-config.json', 'gateway.lock']);
    for (const file of files) expect([file, modeOf(path.join(dataDir, file))]).toEqual([file, 0o600]);
  });

  it('tightens a data directory and a ledger left open to other users, and says so', () => {
    freshAccount();
    expect(cli(['status'], env).status).toBe(0);
    fs.chmodSync(dataDir, 0o755);
    fs.chmodSync(databaseFile(), 0o644);

    const result = cli(['status'], env);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`${dataDir} was open to other users (mode 0755); tightened to 0700`);
    expect(result.stderr).toContain(`${databaseFile()} was open to other users (mode 0644); tightened to 0600`);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(databaseFile())).toBe(0o600);
    expect(cli(['status'], env).stderr).not.toContain('tightened');
  });
});

describe('/healthz tells any local process only that a gateway is alive', () => {
  it('answers without a token, with neither pid nor data directory; the id it gives is in the private lock file', async () => {
    freshAccount();
    const server = await start();
    const res = await rawRequest(`${server.url}/healthz`, { method: 'GET' });
    expect(res.status).toBe(200);
    const text = res.body.toString();
    expect(text).not.toContain(dataDir);
    expect(text).not.toContain(String(server.child.pid));
    const health = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(health).sort()).toEqual(['app', 'instance', 'ok']);
    expect(health).toMatchObject({ ok: true, app: 'creditgate' });

    const lock = JSON.parse(fs.readFileSync(path.join(dataDir, 'gateway.lock'), 'utf8')) as Record<string, unknown>;
    expect(lock).toMatchObject({ pid: server.child.pid, port: Number(new URL(server.url).port), instance: health.instance });
    expect(health.instance).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('control characters in names never reach the terminal', () => {
  it('escapes a model name with ANSI escapes in every `creditgate usage` view; --json keeps it exact', async () => {
    freshAccount({ rateCard: ANY_MODEL_CARD });
    const token = newToken(`agent${ESC}[2J`);
    const server = await start();
    expect((await chat(server.url, token, HOSTILE_MODEL)).status).toBe(200);

    for (const view of [['usage'], ['usage', '--group-by', 'model'], ['usage', '--group-by', 'client'], ['usage', '--csv']]) {
      const { status, stdout } = cli(view, env);
      expect(status).toBe(0);
      expect(stdout).not.toContain(ESC);
      expect(stdout).not.toContain('\u0007');
      expect(stdout).toContain(view.includes('client') ? 'agent\\u001b[2J' : 'gpt-5\\u001b[31mRED\\u001b]0;pwned\\u0007');
    }
    const [row] = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line) as { model: string; client: string });
    expect(row).toMatchObject({ model: HOSTILE_MODEL, client: `agent${ESC}[2J` });
  });

  it("escapes a config's plan name in `creditgate status`, and names quoted in errors", () => {
    const plan = `team${ESC}[8m`;
    freshAccount({ plans: { [plan]: { windows: { '5h': 10, weekly: 50 } } } });
    const set = cli(['plan', 'set', plan], env);
    expect(set.status).toBe(0);
    expect(set.stdout).toContain('plan team\\u001b[8m · state');
    expect(set.stdout).not.toContain(ESC);
    expect(JSON.parse(cli(['status', '--json'], env).stdout)).toMatchObject({ plan });

    const unknown = cli(['plan', 'set', `nope${ESC}]52;c;cHduZWQ=\u0007`], env);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('nope\\u001b]52;c;cHduZWQ=\\u0007');
    expect(unknown.stderr).not.toContain(ESC);
  });
});

describe('a truncated or foreign ledger file is refused, never replaced by a new ledger', () => {
  function withDatabaseFile(write: (file: string) => void): void {
    freshAccount();
    fs.mkdirSync(dataDir, { mode: 0o700 });
    write(databaseFile());
  }

  it('refuses a zero-length ledger in the CLI and in serve, naming the file, and leaves it as it was', async () => {
    withDatabaseFile((file) => fs.writeFileSync(file, ''));
    const result = cli(['status'], env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`the ledger database ${databaseFile()} is empty (0 bytes)`);
    await expect(serve([], env)).rejects.toThrow(/is empty \(0 bytes\)/);
    expect(fs.statSync(databaseFile()).size).toBe(0);
    expect(fs.readdirSync(dataDir)).toEqual(['creditgate.db']);
  });

  it("refuses another program's SQLite database (user_version 0 with tables) and leaves its tables alone", () => {
    withDatabaseFile((file) => {
      const other = new Database(file);
      other.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')");
      other.close();
    });
    const result = cli(['credits', 'add', '5'], env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${databaseFile()} is a SQLite database but not a Creditgate ledger`);
    const other = new Database(databaseFile(), { readonly: true });
    expect(other.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all()).toEqual(['notes']);
    other.close();
  });

  it('refuses a versioned SQLite database without an account table, and a file that is not SQLite at all', () => {
    withDatabaseFile((file) => {
      const other = new Database(file);
      other.exec('CREATE TABLE settings (k, v)');
      other.pragma('user_version = 3');
      other.close();
    });
    expect(cli(['status'], env).stderr).toMatch(/not a Creditgate ledger \(schema version 3, no account table\)/);

    withDatabaseFile((file) => fs.writeFileSync(file, 'plans:\n  - plus\n'));
    const text = cli(['status'], env);
    expect(text.status).not.toBe(0);
    expect(text.stderr).toContain(`${databaseFile()} is not a SQLite database`);
    expect(fs.readFileSync(databaseFile(), 'utf8')).toBe('plans:\n  - plus\n');
  });

  it('still starts a new ledger where there is no file, once, when several processes start on it at the same moment', async () => {
    freshAccount();
    const buyers = Array.from({ length: 4 }, (_, i) => {
      const child = spawn(process.execPath, [TEST_CLI, 'credits', 'add', '1', '--key', `k${i}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      return new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
    });
    expect(await Promise.all(buyers)).toEqual(Array.from({ length: 4 }, () => ({ code: 0, stderr: '' })));
    expect(balance()).toBe(4);
    expect(fs.readdirSync(dataDir).filter((name) => name.includes('.new'))).toEqual([]);
  });
});

describe('an idempotency key reused for a different purchase is a conflict, not a silent no-op', () => {
  it('answers 409 conflict in the own API error shape; the same purchase again stays a no-op', async () => {
    freshAccount();
    const admin = newToken('owner', true);
    const server = await start();
    const order = { amount: 5, idempotencyKey: 'order-1', source: 'purchase' };
    expect((await addCredits(server.url, admin, order)).status).toBe(200);
    expect((await addCredits(server.url, admin, order)).status).toBe(200);

    for (const other of [{ amount: 50 }, { source: 'promo' }, { expiresAt: '2099-01-01T00:00:00Z' }]) {
      const res = await addCredits(server.url, admin, { ...order, ...other });
      expect(res.status).toBe(409);
      expect(jsonOf(res)).toEqual({
        error: {
          type: 'invalid_request_error',
          code: 'conflict',
          param: null,
          message: expect.stringContaining('idempotency key "order-1" was already used for a different purchase') as unknown,
        },
      });
    }
    expect(balance()).toBe(5);
  });

  it('fails `creditgate credits add` with the reason, and adds nothing', () => {
    freshAccount();
    expect(cli(['credits', 'add', '5', '--key', 'order-7'], env).status).toBe(0);
    const reused = cli(['credits', 'add', '6', '--key', 'order-7'], env);
    expect(reused.status).not.toBe(0);
    expect(reused.stderr).toMatch(/idempotency key "order-7" was already used for a different purchase \(grant #1: 5 credits/);
    expect(cli(['credits', 'add', '5', '--key', 'order-7'], env).status).toBe(0);
    expect(balance()).toBe(5);
  });
});

describe('ledger storage failures name their cause and the database', () => {
  /** Another connection holding the write lock, as a stuck process or a sqlite3 shell would. */
  function holdWriteLock(file: string): () => void {
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    return () => {
      other.exec('COMMIT');
      other.close();
    };
  }

  it('answers 503 in each route shape while another process holds the ledger locked, forwarding nothing', async () => {
    gw = await startTestGateway({ busyTimeoutMs: 100 });
    const file = path.join(gw.dataDir, 'creditgate.db');
    const forwarded = gw.upstream.requests.length;
    const release = holdWriteLock(file);
    try {
      const openai = await chat(gw.url, gw.token);
      expect(openai.status).toBe(503);
      expect(openai.headers['retry-after']).toBe('1');
      const body = jsonOf(openai) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: 'server_error', code: 'ledger_busy' });
      expect(body.error.message).toContain(`The ledger database ${file} is locked by another process`);
      expect(body.error.message).toContain('The request was not forwarded.');

      const anthropic = await messages(gw.url, gw.token);
      expect(anthropic.status).toBe(503);
      expect(jsonOf(anthropic)).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: expect.stringContaining(file) as unknown } });

      const purchase = await addCredits(gw.url, gw.adminToken, { amount: 1, idempotencyKey: 'while-locked' });
      expect(purchase.status).toBe(503);
      expect(jsonOf(purchase)).toMatchObject({ error: { code: 'ledger_busy', message: expect.stringContaining('locked by another process') as unknown } });
      expect(gw.upstream.requests.length).toBe(forwarded);
    } finally {
      release();
    }
    expect((await chat(gw.url, gw.token)).status).toBe(200);
  });

  it('fails a CLI command with the same message while the ledger is locked', () => {
    freshAccount({ ledgerBusyTimeoutMs: 100 });
    expect(cli(['status'], env).status).toBe(0);
    const release = holdWriteLock(databaseFile());
    let result;
    try {
      result = cli(['credits', 'add', '5'], env);
    } finally {
      release();
    }
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`creditgate: the ledger database ${databaseFile()} is locked by another process`);
    expect(balance()).toBe(0);
  });

  /**
   * A read-only ledger: mode 0400. Root writes any file whatever its mode, so a test running as root
   * runs the CLI and the gateway as `nobody`, who then owns the data directory.
   */
  const NOBODY: RunAs = { uid: 65534, gid: 65534 };
  const asRoot = process.getuid?.() === 0;
  const canSwitchUser = !asRoot || spawnSync(process.execPath, ['-e', ''], NOBODY).status === 0;

  function makeLedgerReadOnly(): RunAs | null {
    fs.chmodSync(databaseFile(), 0o400);
    if (!asRoot) return null;
    const root = path.dirname(dataDir);
    for (const entry of [root, ...fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).map((name) => path.join(root, name))]) {
      fs.chownSync(entry, NOBODY.uid, NOBODY.gid);
    }
    return NOBODY;
  }

  it.skipIf(!canSwitchUser)('says the ledger is read-only, over HTTP (500, nothing forwarded) and from the CLI', async () => {
    freshAccount();
    const token = newToken('agent');
    const admin = newToken('owner', true);
    const as = makeLedgerReadOnly();

    const write = cli(['credits', 'add', '5'], env, as);
    expect(write.status).toBe(1);
    expect(write.stderr).toContain(`creditgate: the ledger database ${databaseFile()} is read-only`);
    expect(cli(['status'], env, as).status).toBe(0); // reading still works

    const server = await start(as);
    const forwarded = upstream.requests.length;
    const res = await chat(server.url, token);
    expect(res.status).toBe(500);
    expect(res.headers['x-should-retry']).toBe('false');
    const message = (jsonOf(res) as { error: { message: string } }).error.message;
    expect(message).toContain(`The ledger database ${databaseFile()} is read-only`);
    expect(message).toContain('The request was not forwarded.');
    expect(upstream.requests.length).toBe(forwarded);

    const purchase = await addCredits(server.url, admin, { amount: 1, idempotencyKey: 'read-only' });
    expect(purchase.status).toBe(500);
    expect(jsonOf(purchase)).toMatchObject({ error: { type: 'server_error', message: expect.stringContaining('is read-only') as unknown } });
  });
});
