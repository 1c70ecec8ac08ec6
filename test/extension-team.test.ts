/**
 * The editor's link to a team gateway (extension/team/, docs/product.md §8 "In the editor"), against
 * real `creditgate serve` processes in front of the fake upstream: the token's status with its role,
 * pushes over the event stream when another client spends, reconnection with backoff when the
 * gateway goes away and comes back, a refused token that stops the retries, and the typed requests
 * answered over HTTP. Also the team wording of the status bar, tooltip and panel.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Status } from '../shared/protocol';
import { AddCreditsRpc, BalanceHistoryRequest, ListPlansRequest, RateCardRequest, StatusRequest, UsageRequest } from '../shared/rpc';
import { statusText } from '../extension/presentation/statusBarModel';
import { tooltipMarkdown } from '../extension/presentation/tooltip';
import { creditFigures, statusLine } from '../extension/presentation/usageGauges';
import { SseParser } from '../extension/team/sse';
import { reconnectDelay, TeamGatewayConnection, type TeamPhase } from '../extension/team/teamConnection';
import { TeamGatewayError } from '../extension/team/teamHttp';
import { rawRequest, startFakeUpstream, type FakeUpstream } from './fake-upstream';
import { NOW, status } from './extension-fixtures';
import { freePort } from './helpers/freePort';
import { cli, serve, type ServeProcess, killServeProcesses } from './helpers/cliProcess';
import { eventually } from './helpers/testGateway';

let upstream: FakeUpstream;
let dataDir: string;
let env: NodeJS.ProcessEnv;
const running: ServeProcess[] = [];
const connections: TeamGatewayConnection[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => upstream.close());
afterEach(async () => {
  for (const connection of connections.splice(0)) await connection.stop();
  await killServeProcesses(running);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function newAccount(): void {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-team-'));
  env = { CREDITGATE_DATA_DIR: dataDir, CREDITGATE_CONFIG: '', CREDITGATE_OPENAI_BASE_URL: `${upstream.url}/v1`, CREDITGATE_ANTHROPIC_BASE_URL: upstream.url };
}

function token(name: string, admin = false): string {
  return cli(['token', '--name', name, ...(admin ? ['--admin'] : [])], env).stdout.trim().split('\n').at(-1)!;
}

async function startServe(port?: number): Promise<ServeProcess> {
  const server = await serve(port === undefined ? [] : ['--port', String(port)], env);
  running.push(server);
  return server;
}

interface Watched {
  connection: TeamGatewayConnection;
  statuses: Status[];
  phases: TeamPhase[];
  warnings: string[];
}

function connect(url: string, bearer: string): Watched {
  const warnings: string[] = [];
  const connection = new TeamGatewayConnection({
    url,
    token: bearer,
    log: { info: () => undefined, warn: (message) => warnings.push(message) },
    backoff: { initialMs: 100, maxMs: 400 },
  });
  const watched: Watched = { connection, statuses: [], phases: [], warnings };
  connection.onStatus((s) => watched.statuses.push(s));
  connection.onPhase((p) => watched.phases.push(p));
  connections.push(connection);
  connection.start();
  return watched;
}

function spend(url: string, bearer: string): Promise<number> {
  const body = JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: 'spend a little' }] });
  return rawRequest(`${url}/v1/chat/completions`, { headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body }).then((r) => r.status);
}

describe('TeamGatewayConnection against a real gateway', () => {
  it("shows the token's status with its role, and moves when another client spends", async () => {
    newAccount();
    const member = token('alice');
    const agent = token('codex');
    const server = await startServe();
    const watched = connect(server.url, member);
    await eventually(() => expect(watched.connection.phase).toBe('connected'), 5_000);
    expect(watched.phases).toEqual(['connecting', 'connected']);
    const first = watched.connection.status!;
    expect(first).toMatchObject({ plan: 'plus', state: 'plan', role: 'member' });
    expect(first.windows.find((w) => w.name === '5h')!.used).toBe(0);

    expect(await spend(server.url, agent)).toBe(200);
    // docs/product.md §8: a change reaches attached editors within 1 s; pushed, not polled.
    await eventually(() => expect(watched.connection.status!.windows.find((w) => w.name === '5h')!.used).toBeGreaterThan(0), 1_000);
    expect(watched.statuses.length).toBeGreaterThanOrEqual(2);
    expect(watched.connection.status!.role).toBe('member');
  });

  it('tells an admin token apart, and answers the typed requests over HTTP', async () => {
    newAccount();
    const member = token('alice');
    const admin = token('lead', true);
    const server = await startServe();
    const asAdmin = connect(server.url, admin);
    const asMember = connect(server.url, member);
    await eventually(() => expect([asAdmin.connection.phase, asMember.connection.phase]).toEqual(['connected', 'connected']), 5_000);
    expect(asAdmin.connection.status!.role).toBe('admin');

    const added = await asAdmin.connection.requests.requestWith(AddCreditsRpc, { amount: 25, idempotencyKey: 'team-test-1', source: 'purchase' });
    expect(added.credits.balance).toBe(25);
    await eventually(() => expect(asMember.connection.status!.credits.balance).toBe(25), 1_000);

    const refused = asMember.connection.requests.requestWith(AddCreditsRpc, { amount: 5, idempotencyKey: 'team-test-2', source: 'purchase' });
    await expect(refused).rejects.toBeInstanceOf(TeamGatewayError);
    await expect(refused).rejects.toMatchObject({ failure: 'forbidden', message: expect.stringContaining('admin token') });

    expect(await spend(server.url, member)).toBe(200);
    const rows = await asMember.connection.requests.requestWith(UsageRequest, {});
    expect(rows).toMatchObject({ kind: 'rows', rows: [{ client: 'alice', model: 'gpt-5' }] });
    const groups = await asMember.connection.requests.requestWith(UsageRequest, { groupBy: 'client' });
    expect(groups).toMatchObject({ kind: 'groups', groups: [{ key: 'alice', requests: 1 }] });
    expect((await asMember.connection.requests.request(RateCardRequest)).packs.length).toBeGreaterThan(0);
    expect(await asMember.connection.requests.request(StatusRequest)).toMatchObject({ role: 'member' });
    // The pool's history, from the team gateway's credit log.
    const history = await asMember.connection.requests.requestWith(BalanceHistoryRequest, { timeZone: 'Europe/Berlin' });
    expect(history.map((p) => [p.event, p.change, p.balance])).toEqual([
      ['purchase', 25, 25],
      ['now', 0, 25],
    ]);
    const badZone = asMember.connection.requests.requestWith(BalanceHistoryRequest, { timeZone: 'Mars/Olympus_Mons' });
    await expect(badZone).rejects.toThrow(/IANA time zone/);
    await expect(asMember.connection.requests.request(ListPlansRequest)).rejects.toThrow(/creditgate seat plan/);
  });

  it('retries with backoff while the gateway is away, and picks the stream up again when it is back', async () => {
    newAccount();
    const member = token('alice');
    const port = await freePort();
    const first = await startServe(port);
    const watched = connect(first.url, member);
    await eventually(() => expect(watched.connection.phase).toBe('connected'), 5_000);

    first.child.kill('SIGTERM');
    await first.exited;
    await eventually(() => expect(watched.connection.phase).toBe('unreachable'), 3_000);
    expect(watched.connection.status).toBeNull(); // no stale figures while away
    await eventually(() => expect(watched.warnings.length).toBeGreaterThanOrEqual(3), 5_000);
    expect(watched.connection.lastProblem).toMatch(/cannot be reached \(ECONNREFUSED\)/);

    const second = await startServe(port);
    expect(second.url).toBe(first.url);
    await eventually(() => expect(watched.connection.phase).toBe('connected'), 3_000);
    expect(watched.connection.status).toMatchObject({ role: 'member' });
    expect(watched.phases).toEqual(['connecting', 'connected', 'unreachable', 'connected']);
  });

  it('stops retrying on a refused token, without ever showing the token', async () => {
    newAccount();
    token('alice');
    const server = await startServe();
    const wrong = 'cg_not-a-real-token-0123456789';
    const watched = connect(server.url, wrong);
    await eventually(() => expect(watched.connection.phase).toBe('unauthorized'), 5_000);
    expect(watched.connection.lastProblem).toContain('refused the token');
    expect(watched.connection.lastProblem).not.toContain(wrong);
    await new Promise((resolve) => setTimeout(resolve, 500)); // longer than the backoff: no retry comes
    expect(watched.phases).toEqual(['connecting', 'unauthorized']);
    expect(watched.warnings).toEqual([]);
  });

  it('says an address where nothing listens is unreachable, and keeps trying', async () => {
    newAccount();
    const watched = connect(`http://127.0.0.1:${await freePort()}`, 'cg_whatever');
    await eventually(() => expect(watched.connection.phase).toBe('unreachable'), 3_000);
    await eventually(() => expect(watched.warnings.length).toBeGreaterThanOrEqual(2), 3_000);
    expect(watched.warnings[0]).toMatch(/cannot be reached \(ECONNREFUSED\); retrying in 0 s/);
  });
});

describe('reconnectDelay', () => {
  it('doubles from the first delay up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((attempt) => reconnectDelay(attempt))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('SseParser', () => {
  it('assembles events cut anywhere, with CRLF or LF, skipping comments', () => {
    const stream = ': keep-alive\r\n\r\nevent: status\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: status\ndata: {"b":2}\n\n';
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))];
      expect(events, `cut at ${cut}`).toEqual([
        { event: 'status', data: '{"a":\n1}' },
        { event: 'status', data: '{"b":2}' },
      ]);
    }
  });
});

describe('team wording', () => {
  const team = (over: Partial<Status> = {}): Status =>
    status({ seat: 'alice', role: 'member', credits: { balance: 12_400, held: 0, available: 12_400 }, ...over }, { '5h': { used: 19 } });

  it("names the pool in the status bar, and the seat and pool in the tooltip and the panel", () => {
    expect(statusText(team())).toBe('62% left (5h) · pool 12,400 cr');
    expect(statusText(team({ state: 'credits' }))).toBe('On credits · pool 12,400 cr');
    expect(statusText(team({ state: 'blocked' }))).toBe('Blocked · pool 12,400 cr');
    expect(statusText(team({ state: 'blocked', role: 'admin' }))).toBe('Add credits');
    const tooltip = tooltipMarkdown(team(), { now: NOW, timeZone: 'UTC', server: 'https://creditgate.example.com' });
    expect(tooltip).toContain("Seat **alice** (member) on https://creditgate\\.example\\.com: the windows are this seat's, the credits are the team pool's.");
    expect(tooltip).toContain('Team pool: **12,400 cr**');
    expect(statusLine(team())).toBe('Seat alice (member) · plan plus · On plan allowance · credits from the team pool');
    expect(creditFigures(team()).title).toBe('Team pool credits');
    // A team gateway whose status names no seat yet: the tooltip still says which gateway and token.
    const seatless = tooltipMarkdown(status({ role: 'member' }), { now: NOW, timeZone: 'UTC', server: 'http://10.0.0.5:8788' });
    expect(seatless).toContain('Gateway: http://10\\.0\\.0\\.5:8788 (team gateway, member token)');
    // The local account's wording is unchanged.
    expect(statusText(status({}, { '5h': { used: 19 } }))).toBe('62% left (5h) · 1,240 cr');
    expect(creditFigures(status()).title).toBe('Credits');
  });
});
