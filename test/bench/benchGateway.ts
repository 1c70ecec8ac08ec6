/**
 * The gateway as the benchmark runs it: `dist/cli.js serve` in its own folder (data directory, config,
 * watchdog) with the bin's Node flags, a token of its own for the load, and the ledger checks that
 * every answer it gave was metered.
 */
import { GATEWAY_NODE_FLAGS } from '../../shared/gatewayRuntime';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchLedger } from './benchLedger';
import { LISTENING, startChild, WATCHDOG_SOURCE, type Child } from './processes';

export interface BenchGateway {
  child: Child;
  url: string;
  token: string;
  /** The token's client name: the usage rows the checks count. */
  client: string;
  profileDir: string | null;
}

export interface GatewayOptions {
  upstreamUrl: string;
  ledger: BenchLedger;
  env: NodeJS.ProcessEnv;
  /** Run under node --cpu-prof, its profile written in `dir`/profile. */
  profile: boolean;
  client: string;
}

function runCli(cli: string, cliArgs: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [cli, ...cliArgs], { env, encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    throw new Error(`creditgate ${cliArgs.join(' ')} failed (exit ${result.status ?? result.signal}): ${result.error?.message ?? ''}${result.stderr}`);
  }
  return result.stdout;
}

/** Starts a gateway whose files live in `dir` (on PostgreSQL its ledger is the team database). */
export async function startGateway(dir: string, options: GatewayOptions): Promise<BenchGateway> {
  const { upstreamUrl, ledger, env } = options;
  const cli = path.join(__dirname, 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run the bench through \`npm run bench\` (it builds first)`);
  mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ plan: 'pro', upstreams: { openai: { baseUrl: `${upstreamUrl}/v1` }, anthropic: { baseUrl: upstreamUrl } } }));
  const location = ['--data-dir', dataDir, '--config', configFile, ...ledger.args];
  // A team database is set up as its operator would: the schema first, then the token and the pool.
  if (ledger.store === 'postgres') runCli(cli, ['migrate', ...location], env);
  const tokenLines = runCli(cli, ['token', '--name', options.client, ...location], env).trim().split('\n');
  const token = tokenLines[tokenLines.length - 1]!.trim();
  runCli(cli, ['credits', 'add', '1000000', ...location], env);

  const watchdog = path.join(dir, 'watchdog.cjs');
  writeFileSync(watchdog, WATCHDOG_SOURCE);
  const profileDir = options.profile ? path.join(dir, 'profile') : null;
  // The flags the `creditgate` bin runs the gateway with (its shebang), plus the profiler's.
  const nodeArgs = [...GATEWAY_NODE_FLAGS, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const { child, match } = await startChild(
    'gateway',
    [...nodeArgs, '--require', watchdog, cli, 'serve', '--port', '0', ...location],
    LISTENING,
    env,
  );
  return { child, url: match[1]!, token, client: options.client, profileDir };
}

async function getJson(url: string, token: string): Promise<unknown> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** Every usage row the query matches, following the pages' `Link: <…>; rel="next"`. */
async function allUsageRows<T>(gateway: BenchGateway, query: string): Promise<T[]> {
  const rows: T[] = [];
  let next: string | null = `/creditgate/v1/usage?${query}`;
  while (next) {
    const response: Response = await fetch(`${gateway.url}${next}`, { headers: { authorization: `Bearer ${gateway.token}` } });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${next}: HTTP ${response.status}: ${text.slice(0, 500)}`);
    rows.push(...(JSON.parse(text) as T[]));
    next = /<([^>]+)>; rel="next"/.exec(response.headers.get('link') ?? '')?.[1] ?? null;
  }
  return rows;
}

/** Requests the gateway has recorded for its bench client so far. */
export async function meteredCount(gateway: BenchGateway): Promise<number> {
  const groups = (await getJson(`${gateway.url}/creditgate/v1/usage?groupBy=client`, gateway.token)) as { key: string; requests: number }[];
  return groups.find((g) => g.key === gateway.client)?.requests ?? 0;
}

export interface MeteringCheck {
  /** Usage rows recorded for the bench client since the count before. */
  metered: number;
  /** Answers the load saw as good 200s. */
  answered: number;
  /** Rows billed on an estimate or not 200: the meter missed the upstream's usage. */
  estimated: number;
  problems: string[];
}

/**
 * Checks the gateway's metering since `meteredBefore` (its count then) and `since`: every answer it
 * gave with 200 (`answered`) must be exactly one usage row, read from the upstream's usage.
 */
export async function checkMetering(gateway: BenchGateway, meteredBefore: number, answered: number, since: number): Promise<MeteringCheck> {
  const problems: string[] = [];
  const metered = (await meteredCount(gateway)) - meteredBefore;
  if (metered !== answered) problems.push(`gateway (client ${gateway.client}) metered ${metered} requests but answered ${answered} with 200`);
  const rows = await allUsageRows<{ estimated: boolean; status: number; client: string }>(gateway, `since=${encodeURIComponent(new Date(since).toISOString())}`);
  const estimated = rows.filter((row) => row.client === gateway.client && (row.estimated || row.status !== 200)).length;
  if (estimated > 0) problems.push(`${estimated} usage rows of client ${gateway.client} were estimated or not 200 (metering did not see the upstream's usage)`);
  return { metered, answered, estimated, problems };
}
