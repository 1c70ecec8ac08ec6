/**
 * The team gateway the editor test attaches to (docs/product.md §8, README "Team mode"): a throwaway
 * PostgreSQL server (test/helpers/postgres.ts), set up with the CLI as an operator would (`migrate`,
 * `seat add`, `token --seat`, `token --admin`, `credits add`), and two `creditgate serve --database URL`
 * instances on it. The editor attaches to the first; a teammate's agent on the same seat and an admin
 * act through the second, so whatever the editor shows has crossed from one instance to the other.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres } from '../helpers/postgres';
import type { GatewayEndpoint } from './gatewayTraffic';

/** The seat the editor's member token spends on, and its plan (50 cr in the 5h window). */
export const TEAM_SEAT = 'editor';
export const TEAM_SEAT_PLAN = 'plus';

export interface TeamGatewayFixture {
  /** The instance the editor attaches to. */
  url: string;
  /** The other instance, on the same database. */
  otherUrl: string;
  /** The editor's member token, on TEAM_SEAT. */
  memberToken: string;
  /** A teammate's agent on the same seat, through the other instance: its spending moves the seat's windows. */
  agent: GatewayEndpoint;
  /** An admin token, through the other instance: its grants move the pool. */
  admin: GatewayEndpoint;
  /** The PostgreSQL server's postmaster, to check it is gone after the cleanup. */
  postgresPid: number;
}

/** How the test's cleanups are registered: each part is stopped even if a later one fails to start. */
export type RegisterCleanup = (name: string, run: () => Promise<void> | void) => void;

const lastLine = (output: string): string => output.trim().split('\n').pop()!.trim();

/** Starts `creditgate serve --port 0 …` and resolves with its URL once it is listening; registers its stop. */
async function serveInstance(name: string, cli: string, args: string[], env: NodeJS.ProcessEnv, register: RegisterCleanup): Promise<string> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  register(name, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`${name} exited before listening: ${stderr}`)));
  });
}

/**
 * A team of one seat on PostgreSQL: the pool holds `poolCredits`, the seat is on the plus plan, and
 * two instances serve it in front of the fake upstream. Everything started is registered with
 * `register` as soon as it runs (newest stopped first: the instances before the server).
 */
export async function startTeamGateway(root: string, cli: string, upstreamUrl: string, poolCredits: number, register: RegisterCleanup): Promise<TeamGatewayFixture> {
  const server = await startPostgres();
  register('PostgreSQL', () => server.close());
  const postgresPid = server.serverPid();
  if (postgresPid === null) throw new Error('the PostgreSQL server names no postmaster pid');
  const database = await server.createDatabase('creditgate_editor');
  // The data directory holds nothing of the ledger here; it is given so the leftover check (processes naming `root`) sees the instances.
  const dataDir = path.join(root, 'team-gateway-data');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const location = ['--database', database, '--data-dir', dataDir];
  const env = { ...process.env, CREDITGATE_CONFIG: '', CREDITGATE_PORT: '', CREDITGATE_DATABASE_URL: '', CREDITGATE_OPENAI_BASE_URL: `${upstreamUrl}/v1`, CREDITGATE_ANTHROPIC_BASE_URL: upstreamUrl };
  const run = (...args: string[]): string => execFileSync(process.execPath, [cli, ...args, ...location], { encoding: 'utf8', env });

  run('migrate');
  run('seat', 'add', TEAM_SEAT, '--plan', TEAM_SEAT_PLAN);
  const memberToken = lastLine(run('token', '--name', 'editor-member', '--seat', TEAM_SEAT));
  const agentToken = lastLine(run('token', '--name', 'teammate-agent', '--seat', TEAM_SEAT));
  const adminToken = lastLine(run('token', '--name', 'team-admin', '--admin'));
  run('credits', 'add', String(poolCredits), '--key', 'team-pool-seed');

  const [url, otherUrl] = await Promise.all([
    serveInstance('team instance 1', cli, location, env, register),
    serveInstance('team instance 2', cli, location, env, register),
  ]);
  return {
    url: url,
    otherUrl: otherUrl,
    memberToken,
    agent: { url: otherUrl, token: agentToken },
    admin: { url: otherUrl, token: adminToken },
    postgresPid,
  };
}
