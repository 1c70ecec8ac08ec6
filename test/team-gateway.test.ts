/**
 * A team gateway (docs/product.md §8): several `creditgate serve --database URL` processes on one real
 * PostgreSQL server enforce one ledger. A grant through one is seen through the others and pushed to
 * their event streams within a second; a burst spread over the instances is bounded by the pool; a
 * member (client) token changes nothing; an instance killed with SIGKILL has its requests settled at
 * their estimate by a live one; while the database is away requests get 503 and nothing is forwarded,
 * and serving resumes by itself.
 */
import http from 'node:http';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawRequest, startFakeUpstream, type FakeUpstream, type RawResponse } from './fake-upstream';
import { cli, serve, teamEnv, type ServeProcess, killServeProcesses } from './helpers/cliProcess';
import type { PostgresServer } from './helpers/postgres';
import { queryDatabase, startPostgres } from './helpers/postgres';
import { codexRateLimitsEvent, eventually, followBalances as follow } from './helpers/testGateway';

let server: PostgresServer;
let upstream: FakeUpstream;
let url: string;
let env: NodeJS.ProcessEnv;
const running: ServeProcess[] = [];

beforeAll(async () => {
  server = await startPostgres();
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
  server.close();
});

beforeEach(async () => {
  url = await server.createDatabase();
  env = teamEnv(url, upstream.url);
  upstream.setBehavior(null);
});

afterEach(async () => {
  await killServeProcesses(running);
});

async function instances(count: number): Promise<ServeProcess[]> {
  const started = await Promise.all(Array.from({ length: count }, () => serve([], env)));
  running.push(...started);
  return started;
}

const token = (...args: string[]): string => cli(['token', ...args], env).stdout.trim().split('\n').at(-1)!;

const sql = <T>(query: string): Promise<T[]> => queryDatabase<T>(url, query);

const USAGE = JSON.stringify({ input_tokens: 1_000, output_tokens: 400 });

function chatStream(base: string, bearer: string, behavior = ''): Promise<RawResponse> {
  return rawRequest(`${base}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'x-fake-usage': USAGE, 'x-fake-behavior': behavior },
    body: JSON.stringify({ model: 'gpt-5', stream: true, max_tokens: 500, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

async function statusOf(base: string, bearer: string): Promise<{ credits: { balance: number; held: number } }> {
  const res = await rawRequest(`${base}/creditgate/v1/status`, { method: 'GET', headers: { authorization: `Bearer ${bearer}` } });
  expect(res.status).toBe(200);
  return JSON.parse(res.body.toString()) as { credits: { balance: number; held: number } };
}

describe('a team gateway on PostgreSQL', () => {
  it('shares one ledger between three instances: grants seen and pushed everywhere, member tokens change nothing', async () => {
    const [a, b, c] = await instances(3);
    const admin = token('--name', 'admin', '--admin');
    const member = token('--name', 'alice');
    const feeds = [follow(b!.url, member), follow(c!.url, member)];
    await eventually(() => expect(feeds.every((feed) => feed.balances.length > 0)).toBe(true), 5_000);

    const started = Date.now();
    const grant = await rawRequest(`${a!.url}/creditgate/v1/credits`, {
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 25, idempotencyKey: 'team-grant' }),
    });
    expect(grant.status).toBe(200);
    await eventually(() => expect(feeds.map((feed) => feed.balances.at(-1))).toEqual([25, 25]), 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const feed of feeds) feed.stop();
    for (const instance of [b!, c!]) expect((await statusOf(instance.url, member)).credits.balance).toBe(25);

    for (const instance of [a!, b!, c!]) {
      const refused = await rawRequest(`${instance.url}/creditgate/v1/windows/reset`, { headers: { authorization: `Bearer ${member}` } });
      expect(refused.status).toBe(403);
    }
  }, 60_000);

  it('gives each seat its own windows on the shared pool: a member sees only its seat', async () => {
    const [a, b] = await instances(2);
    const alice = cli(['seat', 'add', 'alice', '--plan', 'plus'], env).stdout.trim().split('\n').at(-1)!;
    const bob = cli(['seat', 'add', 'bob', '--plan', 'pro'], env).stdout.trim().split('\n').at(-1)!;
    expect(cli(['credits', 'add', '10', '--key', 'pool'], env).status).toBe(0);
    expect((await chatStream(a!.url, alice)).status).toBe(200);

    type SeatStatus = { seat: string; plan: string; windows: { name: string; used: number }[]; credits: { balance: number } };
    const seen = async (base: string, bearer: string): Promise<SeatStatus> => (await statusOf(base, bearer)) as unknown as SeatStatus;
    const [aliceStatus, bobStatus] = [await seen(b!.url, alice), await seen(b!.url, bob)];
    expect(aliceStatus).toMatchObject({ seat: 'alice', plan: 'plus' });
    expect(bobStatus).toMatchObject({ seat: 'bob', plan: 'pro' });
    expect(aliceStatus.windows[0]!.used).toBeGreaterThan(0);
    expect(bobStatus.windows.every((w) => w.used === 0)).toBe(true);
    expect(aliceStatus.credits.balance).toBe(bobStatus.credits.balance); // one pool

    const listed = JSON.parse(cli(['seat', 'list', '--json'], env).stdout) as { name: string; plan: string; state: string; windows: { used: number }[] }[];
    expect(listed.map((row) => [row.name, row.plan])).toEqual([['alice', 'plus'], ['bob', 'pro'], ['default', 'plus']]);
    expect(cli(['windows', 'reset', '--seat', 'alice'], env).status).toBe(0);
    expect((await seen(a!.url, alice)).windows.every((w) => w.used === 0)).toBe(true);

    // Both instances know bob's token by now; removing the seat revokes it on every instance within a second.
    expect((await chatStream(b!.url, bob)).status).toBe(200);
    // A member reads its own seat's usage; an admin reads every seat's.
    const usageOf = async (bearer: string) =>
      JSON.parse((await rawRequest(`${a!.url}/creditgate/v1/usage`, { method: 'GET', headers: { authorization: `Bearer ${bearer}` } })).body.toString()) as { client: string }[];
    expect((await usageOf(alice)).map((row) => row.client)).toEqual(['alice']);
    expect((await usageOf(token('--name', 'ops', '--admin'))).map((row) => row.client).sort()).toEqual(['alice', 'bob']);
    expect(cli(['seat', 'remove', 'bob'], env).status).toBe(0);
    const removedAt = Date.now();
    await eventually(async () => {
      for (const instance of [a!, b!]) expect((await chatStream(instance.url, bob)).status).toBe(401);
    }, 2_000);
    expect(Date.now() - removedAt).toBeLessThan(1_500);
    expect(cli(['seat', 'add', 'no way!'], env).status).toBe(2);
  }, 60_000);

  it("sends Codex the seat's settled codex.rate_limits event before response.completed, the charge committed on the shared ledger first", async () => {
    const [a, b] = await instances(2);
    const alice = cli(['seat', 'add', 'alice', '--plan', 'plus'], env).stdout.trim().split('\n').at(-1)!;
    const res = await rawRequest(`${a!.url}/v1/responses`, {
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', originator: 'codex_exec', 'x-fake-usage': USAGE },
      body: JSON.stringify({ model: 'gpt-5-codex', stream: true, input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] }),
    });
    expect(res.status).toBe(200);
    const event = codexRateLimitsEvent(res.body.toString());
    expect(event.plan_type).toBe('plus');
    // Settled: it counts this very request, as any instance now reads the seat.
    const seat = (await statusOf(b!.url, alice)) as unknown as { windows: { usedPercent: number }[] };
    expect(seat.windows[0]!.usedPercent).toBeGreaterThan(0);
    expect(event.rate_limits.primary.used_percent).toBeCloseTo(seat.windows[0]!.usedPercent, 1);
  }, 60_000);

  it('runs the seats over the HTTP API for admins only, with errors in the API shape', async () => {
    const [a, b] = await instances(2);
    const admin = token('--name', 'ops', '--admin');
    const member = token('--name', 'someone');
    const call = async (base: string, bearer: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const headers: Record<string, string> = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
      const res = await rawRequest(`${base}/creditgate/v1${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: JSON.parse(res.body.toString()) };
    };
    expect(cli(['credits', 'add', '10', '--key', 'pool'], env).status).toBe(0);

    const added = await call(a!.url, admin, 'POST', '/seats', { name: 'carol', plan: 'plus' });
    expect(added).toMatchObject({ status: 200, json: { seat: 'carol', token: expect.stringMatching(/^cg_/) } });
    const carol = (added.json as { token: string }).token;
    expect((await chatStream(b!.url, carol)).status).toBe(200);
    expect(((await call(b!.url, admin, 'GET', '/seats')).json as { seat: string }[]).map((s) => s.seat)).toEqual(['carol', 'default']);

    expect(await call(b!.url, admin, 'POST', '/seats/carol/plan', { plan: 'pro' })).toMatchObject({ status: 200, json: { seat: 'carol', plan: 'pro' } });
    // Off the pool once the windows are used up; then a cap of 2 credits a week instead.
    expect((await call(a!.url, admin, 'POST', '/seats/carol/overflow', { continueOnPool: false })).status).toBe(200);
    expect((await call(a!.url, admin, 'POST', '/seats/carol/overflow', { continueOnPool: true, weeklyCap: 2 })).status).toBe(200);
    const audit = await sql<{ action: string; detail: { to: unknown } }>("SELECT action, detail FROM audit WHERE action IN ('auto_use_credits_set', 'seat_cap_set') ORDER BY id");
    expect(audit.map((row) => [row.action, row.detail.to])).toEqual([
      ['auto_use_credits_set', false],
      ['auto_use_credits_set', true],
      ['seat_cap_set', 2_000_000],
    ]);
    expect((await call(a!.url, admin, 'POST', '/windows/reset', { seat: 'carol' })).status).toBe(200);
    expect((await statusOf(a!.url, carol)) as unknown).toMatchObject({ seat: 'carol', windows: [{ used: 0 }, { used: 0 }] });

    // A member may not even list them; every change needs an admin.
    for (const [method, route, body] of [['GET', '/seats'], ['POST', '/seats', { name: 'mallory' }], ['DELETE', '/seats/carol']] as const) {
      expect(await call(a!.url, member, method, route, body)).toMatchObject({ status: 403, json: { error: { message: expect.stringContaining('admin token') } } });
    }
    // Bad names, unknown seats and plans, odd paths.
    expect(await call(a!.url, admin, 'POST', '/seats', { name: '__proto__' })).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('cannot name a seat') } } });
    expect(await call(a!.url, admin, 'POST', '/seats/nobody/plan', { plan: 'pro' })).toMatchObject({ status: 404, json: { error: { message: expect.stringContaining('no seat "nobody"') } } });
    expect(await call(a!.url, admin, 'POST', '/seats/carol/plan', { plan: 'constructor' })).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('unknown plan') } } });
    expect((await call(a!.url, admin, 'POST', '/seats/carol/overflow', { weeklyCap: 0.0000001 })).status).toBe(400);
    expect((await call(a!.url, admin, 'POST', '/seats/%E0%A4%A/plan', { plan: 'pro' })).status).toBe(400);
    expect((await call(a!.url, admin, 'GET', '/seats/carol/plan/extra')).status).toBe(404);

    expect(await call(b!.url, admin, 'DELETE', '/seats/carol')).toMatchObject({ status: 200, json: { removed: 'carol' } });
    await eventually(async () => expect((await chatStream(a!.url, carol)).status).toBe(401), 2_000);
  }, 60_000);

  it('bounds a burst of 60 streams spread over three instances by the pool, and the books balance', async () => {
    const [a, b, c] = await instances(3);
    expect(cli(['plan', 'set', 'free'], env).status).toBe(0); // no allowance: everything runs on the pool
    // gpt-5 at 1,000 input and 400 output tokens: 0.13125 credits a request; the pool holds 10 of them.
    expect(cli(['credits', 'add', '1.3125', '--key', 'pool'], env).status).toBe(0);
    const member = token('--name', 'alice');
    const forwarded = upstream.requests.length;
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => chatStream([a!, b!, c!][i % 3]!.url, member)));
    const admitted = answers.filter((res) => res.status === 200).length;
    expect(answers.every((res) => res.status === 200 || res.status === 429)).toBe(true);
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(10 + 3);
    expect(upstream.requests.length - forwarded).toBe(admitted);
    const [books] = await sql<{ spent: string; held: string; balance: string; granted: string; rows: string }>(
      `SELECT (SELECT coalesce(sum(credit_cost), 0) FROM usage) AS spent, (SELECT count(*) FROM usage) AS rows,
              (SELECT coalesce(sum(estimate), 0) FROM holds) AS held, (SELECT balance FROM account) AS balance,
              (SELECT coalesce(sum(amount), 0) FROM grants) AS granted`,
    );
    expect(Number(books!.rows)).toBe(admitted);
    expect(Number(books!.held)).toBe(0);
    expect(Number(books!.balance)).toBe(Number(books!.granted) - Number(books!.spent));
  }, 90_000);

  it('settles the streams of an instance killed with SIGKILL at their estimate, from a live instance', async () => {
    const [doomed] = await instances(2); // the second one lives on and settles the first one's requests
    expect(cli(['credits', 'add', '100', '--key', 'pool'], env).status).toBe(0);
    const member = token('--name', 'alice');
    // Streams that send two events and then stay open: in flight when their instance dies.
    const streams = Array.from({ length: 10 }, () => chatStream(doomed!.url, member, 'stall=2').catch(() => null));
    await eventually(async () => expect(Number((await sql<{ n: string }>('SELECT count(*) AS n FROM holds'))[0]!.n)).toBe(10), 5_000);
    const killedAt = Date.now();
    doomed!.child.kill('SIGKILL');
    await doomed!.exited;
    await Promise.all(streams);
    await eventually(async () => expect(Number((await sql<{ n: string }>('SELECT count(*) AS n FROM holds'))[0]!.n)).toBe(0), 60_000);
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    const rows = await sql<{ estimated: boolean; reason: string }>('SELECT estimated, reason FROM usage');
    expect(rows).toHaveLength(10);
    expect(rows.every((row) => row.estimated && row.reason === 'gateway_restart')).toBe(true);
  }, 120_000);

  it('lets a non-streaming answer complete only once its charge is committed', async () => {
    const [instance] = await instances(1);
    expect(cli(['credits', 'add', '100', '--key', 'pool'], env).status).toBe(0);
    const member = token('--name', 'alice');
    let done = false;
    const complete = new Promise<void>((resolve, reject) => {
      const req = http.request(`${instance!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json', 'x-fake-usage': USAGE, 'x-fake-behavior': 'delay=1000' },
      });
      req.on('response', (res) => {
        const length = Number(res.headers['content-length']);
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received === length) {
            done = true;
            resolve();
          }
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] }));
    });
    // Once the request is admitted, another session holds the pool's row: its charge must wait for it.
    await eventually(async () => expect(await sql<{ n: string }>('SELECT count(*) AS n FROM holds')).toEqual([{ n: '1' }]), 5_000);
    const locker = new Client({ connectionString: url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM account WHERE id = 1 FOR UPDATE');
      // The upstream has answered when the charge's transaction queues behind the lock.
      const waiting = "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
      await eventually(async () => expect((await locker.query<{ n: string }>(waiting)).rows).toEqual([{ n: '1' }]), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(done).toBe(false);
      await locker.query('COMMIT');
      await complete;
      expect(await sql<{ n: string }>('SELECT count(*) AS n FROM usage')).toEqual([{ n: '1' }]);
    } finally {
      await locker.end();
    }
  }, 60_000);

  it('answers 503 and forwards nothing while the database is away, then serves again by itself', async () => {
    const [instance] = await instances(1);
    expect(cli(['credits', 'add', '100', '--key', 'pool'], env).status).toBe(0);
    const member = token('--name', 'alice');
    expect((await chatStream(instance!.url, member)).status).toBe(200);
    server.stopServer();
    try {
      const forwarded = upstream.requests.length;
      const down = await chatStream(instance!.url, member);
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body.toString())).toMatchObject({ error: { code: 'ledger_unavailable', type: 'server_error' } });
      expect(upstream.requests.length).toBe(forwarded);
    } finally {
      server.startServer();
    }
    await eventually(async () => expect((await chatStream(instance!.url, member)).status).toBe(200), 15_000);
  }, 60_000);
});
