/**
 * The `creditgate` CLI as a separate process (docs/product.md §3, contract): serve, token, status, credits,
 * windows, plan, usage; live changes reach a running gateway; one gateway per data directory; a
 * gateway killed with SIGKILL mid-stream loses nothing and settles its open requests on restart.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { cli, serve, type ServeProcess, killServeProcesses } from './helpers/cliProcess';
import { eventually } from './helpers/testGateway';

let upstream: FakeUpstream;
let dataDir: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
const running: ServeProcess[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => upstream.close());

function freshAccount(config: Record<string, unknown> = {}): void {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-cli-'));
  configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ plan: 'plus', ...config }));
  env = {
    CREDITGATE_DATA_DIR: dataDir,
    CREDITGATE_CONFIG: configFile,
    CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstream.url,
    OPENAI_API_KEY: 'sk-upstream-from-env',
  };
}

async function start(args: string[] = []): Promise<ServeProcess> {
  const server = await serve(args, env);
  running.push(server);
  return server;
}

afterEach(async () => {
  await killServeProcesses(running);
});

const token = (name = 'tests'): string => cli(['token', '--name', name], env).stdout.trim().split('\n').at(-1)!;
const statusJson = () => JSON.parse(cli(['status', '--json'], env).stdout);
const chat = (url: string, bearer: string, extra: Record<string, string> = {}) =>
  rawRequest(`${url}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-usage': '{"input_tokens":1000,"output_tokens":400}', ...extra },
    body: JSON.stringify({ model: 'gpt-5', max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('creditgate CLI', () => {
  it('serves on the port it prints, stops cleanly on SIGTERM, and keeps one gateway per data directory', async () => {
    freshAccount();
    const server = await start();
    expect((await rawRequest(`${server.url}/healthz`, { method: 'GET' })).status).toBe(200);
    const second = cli(['serve', '--port', '0'], env);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`pid ${server.child.pid}`);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    running.length = 0;
    expect(fs.existsSync(path.join(dataDir, 'gateway.lock'))).toBe(false);
  });

  it('issues tokens once, stores only a hash, and revokes the previous token of the same client', async () => {
    freshAccount();
    const server = await start();
    const first = token('codex');
    expect(first).toMatch(/^cg_[A-Za-z0-9_-]{20,}$/);
    expect((await chat(server.url, first)).status).toBe(200);
    const second = token('codex');
    expect(second).not.toBe(first);
    await eventually(async () => expect((await chat(server.url, first)).status).toBe(401));
    expect((await chat(server.url, second)).status).toBe(200);
    const database = fs.readFileSync(path.join(dataDir, 'creditgate.db')).toString('latin1') + fs.readFileSync(path.join(dataDir, 'creditgate.db-wal')).toString('latin1');
    expect(database).not.toContain(second);
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-upstream-from-env');
  });

  it('applies credits add, plan set and windows reset to a running gateway on the very next request', async () => {
    freshAccount({ plan: 'tiny', plans: { tiny: { windows: { '5h': 0.1, weekly: 5 }, features: ['assistant'] } } });
    const server = await start();
    const bearer = token();
    expect((await chat(server.url, bearer)).status).toBe(200);
    expect((await chat(server.url, bearer)).status).toBe(429);

    const added = cli(['credits', 'add', '2.5', '--key', 'order-7', '--json'], env);
    expect(added.status).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ state: 'credits', credits: { balance: 2.5 } });
    expect(JSON.parse(cli(['credits', 'add', '2.5', '--key', 'order-7', '--json'], env).stdout).credits.balance).toBe(2.5);
    const next = await chat(server.url, bearer);
    expect(next.status).toBe(200);
    expect(next.headers['x-creditgate-state']).toBe('credits');

    const reset = JSON.parse(cli(['windows', 'reset', '--json'], env).stdout);
    expect(reset.state).toBe('plan');
    expect(reset.windows[0]).toMatchObject({ used: 0, resetsAt: null });
    expect((await chat(server.url, bearer)).headers['x-creditgate-state']).toBe('plan');

    const plan = JSON.parse(cli(['plan', 'set', 'pro', '--json'], env).stdout);
    expect(plan.plan).toBe('pro');
    expect(plan.windows[0].limit).toBe(300);
    const viaApi = await rawRequest(`${server.url}/creditgate/v1/status`, { method: 'GET', headers: { authorization: `Bearer ${bearer}` } });
    expect(JSON.parse(viaApi.body.toString()).plan).toBe('pro');

    const grants = JSON.parse(cli(['credits', 'list', '--json'], env).stdout);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toMatchObject({ source: 'purchase', amount: 2.5, idempotencyKey: 'order-7' });

    // The books balance, checked against the rows from another process while the gateway runs.
    const verified = cli(['verify'], env);
    expect(verified.status).toBe(0);
    expect(verified.stdout).toMatch(/^the books balance: /);
  });

  it('verify names what does not add up, and exits 1', () => {
    freshAccount({ plan: 'free' });
    expect(cli(['credits', 'add', '3', '--key', 'k1'], env).status).toBe(0);
    // A grant's remainder changed behind the ledger's back (a hand edit, a bad restore).
    const db = new Database(path.join(dataDir, 'creditgate.db'));
    db.prepare('UPDATE grants SET remaining = remaining - 1000').run();
    db.close();
    const verified = cli(['verify', '--json'], env);
    expect(verified.status).toBe(1);
    expect(JSON.parse(verified.stdout)).toEqual({
      ok: false,
      problems: [
        "the grants' remainders (2999000 µcr) less the debt (0 µcr) are not the balance (3000000 µcr)",
        "1 grant(s) whose remainder is not its amount less what the log took from it",
      ],
    });
  });

  it('shows and enforces, without --config, the rules of the gateway that runs on the data directory', async () => {
    freshAccount({ plan: 'tiny', plans: { tiny: { windows: { '5h': 0.1, weekly: 5 }, features: ['assistant'] } } });
    const server = await start();
    const bearer = token();
    expect((await chat(server.url, bearer)).status).toBe(200);
    // The same commands without the gateway's config file: no CREDITGATE_CONFIG, no --config.
    const bare = { ...env, CREDITGATE_CONFIG: '' };
    const status = JSON.parse(cli(['status', '--json'], bare).stdout);
    expect(status.plan).toBe('tiny');
    expect(status.windows[0]).toMatchObject({ name: '5h', limit: 0.1 });
    expect(status.windows[0].usedPercent).toBeGreaterThan(100);
    const planSet = cli(['plan', 'set', 'tiny', '--json'], bare);
    expect(planSet.status).toBe(0);
    const remembered = path.join(dataDir, 'gateway-config.json');
    expect(fs.statSync(remembered).mode & 0o777).toBe(0o600);
    // An explicit config still wins for the command that names it.
    const other = path.join(dataDir, 'other.json');
    fs.writeFileSync(other, JSON.stringify({ plan: 'plus' }));
    expect(cli(['plan', 'set', 'tiny', '--config', other], bare).status).not.toBe(0);
  });

  it('prints usage per request, grouped, and as CSV', async () => {
    freshAccount();
    const server = await start();
    const bearer = token('script');
    for (let i = 0; i < 3; i++) expect((await chat(server.url, bearer)).status).toBe(200);
    const rows = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(rows).toHaveLength(3);
    expect(Object.keys(rows[0]).sort()).toEqual(
      ['id', 'ts', 'client', 'feature', 'model', 'route', 'status', 'inputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'outputTokens', 'reasoningTokens', 'cost', 'planCost', 'creditCost', 'estimated', 'reason', 'unpriced'].sort(),
    );
    expect(rows[0]).toMatchObject({ client: 'script', model: 'gpt-5', cost: 0.13125, planCost: 0.13125, creditCost: 0, estimated: false, reason: null, unpriced: false });
    const groups = cli(['usage', '--json', '--group-by', 'client'], env).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(groups).toEqual([{ key: 'script', requests: 3, cost: 0.39375, inputTokens: 3000, outputTokens: 1200 }]);
    const csv = cli(['usage', '--csv', '--group-by', 'model'], env).stdout;
    expect(csv.split('\r\n')[0]).toBe('key,requests,cost,inputTokens,outputTokens');
    expect(csv).toContain('gpt-5,3,0.39375,3000,1200');
    expect(cli(['usage', '--since', '2999-01-01T00:00:00Z', '--json'], env).stdout.trim()).toBe('');
    const api = await rawRequest(`${server.url}/creditgate/v1/usage?groupBy=day`, { method: 'GET', headers: { authorization: `Bearer ${bearer}` } });
    expect(JSON.parse(api.body.toString())[0]).toMatchObject({ requests: 3, cost: 0.39375 });
  });

  it('bills a cut stream with the real tokenizer, loaded from its own bundle on first use', async () => {
    freshAccount({ plan: 'pro' });
    const server = await start();
    const bearer = token();
    const cut = await rawRequest(`${server.url}/v1/chat/completions`, {
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-behavior': 'deltas=10,cut=7', 'x-fake-text': 'alpha beta gamma delta epsilon zeta eta theta iota kappa' },
      body: JSON.stringify({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'count in greek' }] }),
    });
    expect(cut.status).toBe(200);
    const [row] = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(row).toMatchObject({ estimated: true, reason: 'upstream_cut' });
    // Five or so deltas ("alpha beta gamma …") reached the client before the cut: o200k counts ~1 token each.
    expect(row.outputTokens).toBeGreaterThanOrEqual(3);
    expect(row.outputTokens).toBeLessThan(10);
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(server.stderr()).not.toMatch(/could not post/);
  });

  it('names the bad key of a broken config and exits 2', () => {
    freshAccount({ plans: { team: { windows: { '5h': 'lots', weekly: 1 } } } });
    const result = cli(['status'], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('plans.team.windows.5h');
    const amount = cli(['credits', 'add', '-5'], env);
    expect(amount.status).not.toBe(0);
  });

  it('loses nothing to kill -9 mid-stream: the open request is settled at its estimate on restart', async () => {
    freshAccount({ plan: 'pro' });
    const server = await start();
    const bearer = token();
    for (let i = 0; i < 3; i++) expect((await chat(server.url, bearer)).status).toBe(200);
    // Start a slow stream and kill the gateway once it is flowing.
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        `${server.url}/v1/responses`,
        { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-behavior': 'deltas=100,interval=50' } },
        (res) => {
          res.once('data', () => {
            server.child.kill('SIGKILL');
            resolve();
          });
          res.on('error', () => undefined);
        },
      );
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'gpt-5', stream: true, input: 'a long story please' }));
      setTimeout(() => reject(new Error('no stream')), 5_000);
    });
    await server.exited;
    running.length = 0;
    const held = statusJson();
    expect(held.windows[0].held).toBeGreaterThan(0);

    const restarted = await start();
    expect(restarted.stderr()).toMatch(/settled 1 request/);
    const rows = cli(['usage', '--json'], env).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(rows).toHaveLength(4);
    expect(rows.filter((row) => !row.estimated)).toHaveLength(3);
    expect(rows.find((row) => row.estimated)).toMatchObject({ reason: 'gateway_restart', route: '/v1/responses' });
    const after = statusJson();
    expect(after.windows[0].held).toBe(0);
    expect(after.windows[0].used).toBeCloseTo(rows.reduce((sum, row) => sum + row.planCost, 0), 6);
  });
});
