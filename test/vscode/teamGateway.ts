/**
 * The team gateway the editor test attaches to (docs/product.md §8, README "Team mode"): a throwaway
 * PostgreSQL server (test/helpers/postgres.ts), set up with the CLI as an operator would (`migrate`,
 * `seat add`, `token --seat`, `token --admin`, `credits add`), and two `creditgate serve --database URL`
 * instances on it. The editor attaches to the first; a teammate's agent on the same seat, an admin and
 * Stripe's webhook act through the second, so whatever the editor shows has crossed from one instance
 * to the other. A team may sell credits: its instances then reach the fake Stripe (test/fake-stripe).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { PaymentsPolicy } from '../../shared/rateCard';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import type { GatewayEndpoint } from './gatewayTraffic';

const DEFAULT_RATE_CARD = path.resolve(__dirname, '../../shared/default-rate-card.json');

export interface TeamGatewayFixture {
  /** The instance the editor attaches to. */
  url: string;
  /** The other instance, on the same database. */
  otherUrl: string;
  /** The editor's member token, on the team's seat. */
  memberToken: string;
  /** A teammate's agent on the same seat, through the other instance: its spending moves the seat's windows. */
  agent: GatewayEndpoint;
  /** An admin token, through the other instance: its grants move the pool. */
  admin: GatewayEndpoint;
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

/** The throwaway PostgreSQL server the teams' databases live on; registered for the cleanup as it starts. */
export async function startTeamPostgres(register: RegisterCleanup): Promise<{ server: PostgresServer; postgresPid: number }> {
  const server = await startPostgres();
  register('PostgreSQL', () => server.close());
  const postgresPid = server.serverPid();
  if (postgresPid === null) throw new Error('the PostgreSQL server names no postmaster pid');
  return { server, postgresPid };
}

export interface TeamOptions {
  /** The database's name on the server, also naming the team's data directory and instances. */
  name: string;
  seat: string;
  plan: string;
  /** Credits added to the pool before the instances start (none when 0). */
  poolCredits: number;
  /** Selling credits: the fake Stripe's environment for the instances, and the rate card's payments policy. */
  payments?: { env: NodeJS.ProcessEnv; policy: PaymentsPolicy };
}

/**
 * A team of one seat on its own database of `server`, served by two instances in front of the fake
 * upstream. Everything started is registered with `register` as soon as it runs (newest stopped
 * first: the instances before the server).
 */
export async function startTeamGateway(server: PostgresServer, root: string, cli: string, upstreamUrl: string, options: TeamOptions, register: RegisterCleanup): Promise<TeamGatewayFixture> {
  const database = await server.createDatabase(options.name);
  // The data directory holds nothing of the ledger here; it is given so the leftover check (processes naming `root`) sees the instances.
  const dataDir = path.join(root, `${options.name}-data`);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const location = ['--database', database, '--data-dir', dataDir];
  if (options.payments) {
    // The payments policy lives in the rate card: the shipped card (its packs) with the policy added.
    const card = JSON.parse(fs.readFileSync(DEFAULT_RATE_CARD, 'utf8')) as object;
    const config = path.join(dataDir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ rateCard: { ...card, payments: options.payments.policy } }));
    location.push('--config', config);
  }
  const env = {
    ...process.env,
    CREDITGATE_CONFIG: '',
    CREDITGATE_PORT: '',
    CREDITGATE_DATABASE_URL: '',
    CREDITGATE_OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstreamUrl,
    ...options.payments?.env,
  };
  const run = (...args: string[]): string => execFileSync(process.execPath, [cli, ...args, ...location], { encoding: 'utf8', env });

  run('migrate');
  run('seat', 'add', options.seat, '--plan', options.plan);
  const memberToken = lastLine(run('token', '--name', `${options.seat}-member`, '--seat', options.seat));
  const agentToken = lastLine(run('token', '--name', 'teammate-agent', '--seat', options.seat));
  const adminToken = lastLine(run('token', '--name', 'team-admin', '--admin'));
  if (options.poolCredits > 0) run('credits', 'add', String(options.poolCredits), '--key', 'team-pool-seed');

  const [url, otherUrl] = await Promise.all([
    serveInstance(`${options.name} instance 1`, cli, location, env, register),
    serveInstance(`${options.name} instance 2`, cli, location, env, register),
  ]);
  return {
    url: url,
    otherUrl: otherUrl,
    memberToken,
    agent: { url: otherUrl, token: agentToken },
    admin: { url: otherUrl, token: adminToken },
  };
}
