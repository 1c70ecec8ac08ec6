/**
 * Wires the parts into a running account: config → ledger → estimator → gateway. Used by the CLI
 * (`creditgate serve` and the one-shot commands) and by the gateway process the extension starts.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { ResolvedConfig } from './config';
import { loadConfig, resolveConfigFile, resolveDataDir } from './config';
import { rememberAccountRules, rememberedRulesFile } from './config/remembered';
import { DATABASE_FILE, preparePrivateDataDir } from './dataDir';
import { GatewayLock } from './gatewayLock';
import type { Logger } from './gateway/context';
import { isWildcardAddress, LOOPBACK_ADDRESS, type ListenAddress } from './gateway/listenAddress';
import { Gateway, type GatewayOptions, type StopOptions } from './gateway/server';
import { readTlsCredentials, type TlsFiles } from './gateway/tlsCredentials';
import { UpstreamKeys } from './gateway/upstream';
import type { LedgerBook } from './ledger/book';
import { Ledger } from './ledger/ledger';
import type { PostgresLedger } from './ledger/postgres/postgresLedger';
import { SqliteBook } from './ledger/sqliteBook';
import { admissionEstimator } from './pricing/admissionEstimator';
import type { Payments, PaymentsOptions } from './payments/service';

export interface RuntimeLocation {
  dataDir?: string;
  configFile?: string;
  /** A postgres:// URL (the CLI's --database); else the config's `database`, else the data directory's SQLite file. */
  database?: string;
}

export interface Account {
  dataDir: string;
  config: ResolvedConfig;
  ledger: Ledger;
  /** The same ledger in the shape both stores share (ledger/book.ts). */
  book: LedgerBook;
}

/** An account on either store, for the one-shot commands. */
export interface BookAccount {
  dataDir: string;
  config: ResolvedConfig;
  book: LedgerBook;
}

/** The data directory (created private on first use) and the configuration a process runs on. */
function accountConfig(
  location: RuntimeLocation,
  env: NodeJS.ProcessEnv,
  log: Pick<Logger, 'warn'>,
  role: 'command' | 'gateway',
): { dataDir: string; config: ResolvedConfig } {
  const dataDir = resolveDataDir({ dataDir: location.dataDir, env });
  preparePrivateDataDir(dataDir, log);
  const given = resolveConfigFile(location.configFile, env);
  const config = loadConfig({ configFile: given ?? (role === 'command' ? rememberedRulesFile(dataDir) : null), env });
  return { dataDir, config };
}

/**
 * The PostgreSQL store, loaded only when a team ledger is used: evaluating node-postgres and the store
 * at start cost every gateway on the SQLite file ~4 MiB of resident memory (idle RSS 68.8 → 65.0 MiB),
 * which the 100 MiB targets of the streaming and mixed phases have no room for.
 */
async function openPostgresLedger(options: Parameters<typeof PostgresLedger.open>[0]): Promise<PostgresLedger> {
  const { PostgresLedger: Store } = await import('./ledger/postgres/postgresLedger');
  return Store.open(options);
}

/** A team gateway's payments, loaded with the PostgreSQL store (the `stripe` package is only for team mode). */
export async function openPayments(options: PaymentsOptions): Promise<Payments> {
  const { Payments: Service } = await import('./payments/service');
  const payments = Service.open(options);
  options.log.info(payments.enabled ? 'payments: Stripe Checkout sells the rate card\'s packs' : 'payments: off (no STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET); Add Credits says so');
  return payments;
}

/**
 * Opens the account's ledger where it lives: on the PostgreSQL server of `--database`, of
 * CREDITGATE_DATABASE_URL or of the config's `database` (migrating its schema when needed), else in
 * the data directory's SQLite file.
 */
export async function openBook(location: RuntimeLocation, env: NodeJS.ProcessEnv, log: Pick<Logger, 'warn'>): Promise<BookAccount> {
  const { dataDir, config } = accountConfig(location, env, log, 'command');
  const database = location.database ?? config.database;
  if (database === null) return { dataDir, config, book: new SqliteBook(openLedgerFile(dataDir, config)) };
  const book = await openPostgresLedger({
    url: database,
    rateCard: config.rateCard,
    plans: config.plans,
    initialPlan: config.plan,
    initialAutoUseCredits: config.autoUseCredits,
  });
  return { dataDir, config, book };
}

/** The PostgreSQL URL the environment or the config names for the ledger, or null (the data directory's SQLite file). */
export function databaseOf(location: RuntimeLocation, env: NodeJS.ProcessEnv = process.env): string | null {
  if (location.database) return location.database;
  const given = resolveConfigFile(location.configFile, env);
  return loadConfig({ configFile: given, env }).database;
}

function openLedgerFile(dataDir: string, config: ResolvedConfig): Ledger {
  return Ledger.open({
    path: path.join(dataDir, DATABASE_FILE),
    rateCard: config.rateCard,
    plans: config.plans,
    initialPlan: config.plan,
    initialAutoUseCredits: config.autoUseCredits,
    busyTimeoutMs: config.ledgerBusyTimeoutMs,
  });
}

/**
 * Opens the account's ledger on the data directory (creating both, private, on first use). Without a
 * config file of its own, a command applies the rules the account's gateway enforces (remembered.ts);
 * a gateway applies the file it was given, or the defaults.
 */
export function openAccount(
  location: RuntimeLocation,
  env: NodeJS.ProcessEnv,
  log: Pick<Logger, 'warn'>,
  role: 'command' | 'gateway' = 'command',
): Account {
  const { dataDir, config } = accountConfig(location, env, log, role);
  const ledger = openLedgerFile(dataDir, config);
  return { dataDir, config, ledger, book: new SqliteBook(ledger) };
}

/**
 * The config's `autoReload` is the account's starting setting, like its `plan`: applied once, on an
 * account where auto-reload was never set. A user who later turns it off keeps it off (docs/product.md §1).
 */
function applyConfiguredAutoReload(account: Account): void {
  const configured = account.config.autoReload;
  if (!configured) return;
  // The audit trail is short (settings changes, tokens, recoveries), so reading it whole is cheap.
  const everSet = account.ledger.audit(Number.MAX_SAFE_INTEGER).some((row) => row.action === 'auto_reload_set');
  if (!everSet) account.ledger.setAutoReload(configured, 'config');
}

/** The config's time limits and connection cap, as the gateway takes them. */
function gatewayLimits(config: ResolvedConfig): Pick<GatewayOptions, 'upstreamTimeouts' | 'connections' | 'shutdownGraceMs'> {
  return {
    upstreamTimeouts: {
      answerMs: config.upstreamTimeoutMs,
      firstByteMs: config.upstreamFirstByteTimeoutMs,
      interByteMs: config.upstreamInterByteTimeoutMs,
    },
    connections: {
      requestHeadersTimeoutMs: config.requestHeadersTimeoutMs,
      requestBodyTimeoutMs: config.requestBodyTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxConnections: config.maxConnections,
    },
    shutdownGraceMs: config.shutdownGraceMs,
  };
}

/** `creditgate serve`'s flags for listening beyond loopback; each one given wins over the config's. */
export interface NetworkFlags {
  host?: string;
  allowedHosts?: string[];
  tls?: TlsFiles;
}

/**
 * Where `creditgate serve` listens: flags over the config. Its TLS files are read now, so that a bad
 * one stops the start with its name. Tokens are required on every address (the front door asks for
 * one whatever the address); plain HTTP on every interface gets a warning, since tokens then cross the
 * network in the clear unless a reverse proxy in front terminates TLS.
 */
function listenAddress(flags: NetworkFlags, config: ResolvedConfig, log: Logger): ListenAddress {
  const host = flags.host ?? config.host;
  const tlsFiles = flags.tls ?? config.tls;
  const tls = tlsFiles ? readTlsCredentials(tlsFiles) : null;
  if (isWildcardAddress(host) && !tls) {
    log.warn(`listening on every interface (${host}) without TLS: tokens cross the network in the clear unless a reverse proxy terminates TLS`);
  }
  const allowedHosts = flags.allowedHosts && flags.allowedHosts.length > 0 ? flags.allowedHosts : config.allowedHosts;
  return { host, allowedHosts, tls };
}

export interface RunningGateway {
  account: Account;
  gateway: Gateway;
  /** Stops gracefully (see Gateway.close), then closes the ledger and releases the data directory. */
  stop(options?: StopOptions): Promise<void>;
}

/**
 * Starts the gateway on the data directory's SQLite ledger: one per data directory, holds of a dead
 * gateway settled first. Without `network` (the editor's own gateway) it listens on loopback whatever
 * the config says.
 */
export async function serveGateway(
  location: RuntimeLocation & { port?: number; network?: NetworkFlags },
  env: NodeJS.ProcessEnv,
  log: Logger,
  keys: UpstreamKeys = UpstreamKeys.fromEnv(env),
): Promise<RunningGateway> {
  const account = openAccount(location, env, log, 'gateway');
  let lock: GatewayLock;
  let address: ListenAddress;
  try {
    address = location.network ? listenAddress(location.network, account.config, log) : LOOPBACK_ADDRESS;
    lock = GatewayLock.acquire(account.dataDir);
  } catch (error) {
    account.ledger.close();
    throw error;
  }
  try {
    // Only the gateway that holds the directory says which rules its account runs on.
    rememberAccountRules(account.dataDir, account.config);
    const recovered = account.ledger.recover();
    if (recovered > 0) log.warn(`settled ${recovered} request(s) left open by a previous gateway at their estimate`);
    applyConfiguredAutoReload(account);
    const gateway = await Gateway.start(
      {
        ledger: account.ledger,
        rateCard: account.config.rateCard,
        endpoints: account.config.upstreams,
        keys,
        estimator: admissionEstimator(account.ledger),
        maxBodyBytes: account.config.maxBodyBytes,
        overspendMargin: account.config.overspendMargin,
        ...gatewayLimits(account.config),
        address,
        log,
        instanceId: lock.instance,
      },
      location.port ?? account.config.port,
    );
    lock.setPort(gateway.port);
    for (const upstream of ['openai', 'anthropic'] as const) {
      if (!keys.has(upstream)) log.info(`no ${upstream} API key configured; requests go upstream without one`);
    }
    return {
      account,
      gateway,
      async stop(options?: StopOptions) {
        await gateway.close(options);
        account.ledger.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    account.ledger.close();
    throw error;
  }
}

export interface RunningTeamGateway {
  ledger: PostgresLedger;
  config: ResolvedConfig;
  gateway: Gateway;
  stop(options?: StopOptions): Promise<void>;
}

/**
 * Starts one instance of a team gateway on a shared PostgreSQL ledger (docs/product.md §8): any number may run
 * on one database. It follows the others' changes (LISTEN), settles dead instances' holds, and
 * answers 503 while the database is away, resuming by itself.
 */
export async function serveTeamGateway(
  location: RuntimeLocation & { port?: number; database: string; network?: NetworkFlags },
  env: NodeJS.ProcessEnv,
  log: Logger,
  keys: UpstreamKeys = UpstreamKeys.fromEnv(env),
): Promise<RunningTeamGateway> {
  const { config } = accountConfig(location, env, log, 'gateway');
  // Read before the database is opened: a bad certificate stops the start with nothing to close.
  const address = location.network ? listenAddress(location.network, config, log) : LOOPBACK_ADDRESS;
  const ledger = await openPostgresLedger({
    url: location.database,
    rateCard: config.rateCard,
    plans: config.plans,
    initialPlan: config.plan,
    initialAutoUseCredits: config.autoUseCredits,
  });
  let payments: Payments | null = null;
  try {
    const recovered = await ledger.recover();
    if (recovered > 0) log.warn(`settled ${recovered} request(s) left open by stopped instances at their estimate`);
    payments = await openPayments({ ledger, databaseUrl: location.database, rateCard: config.rateCard, env, log });
    await ledger.follow();
    ledger.supervise((count) => log.warn(`settled ${count} request(s) of an instance that stopped at their estimate`));
    const gateway = await Gateway.start(
      {
        ledger,
        rateCard: config.rateCard,
        endpoints: config.upstreams,
        keys,
        estimator: admissionEstimator(ledger),
        maxBodyBytes: config.maxBodyBytes,
        overspendMargin: config.overspendMargin,
        ...gatewayLimits(config),
        address,
        log,
        instanceId: randomUUID(),
        payments,
      },
      location.port ?? config.port,
    );
    log.info(`serving the team ledger ${ledger.location}`);
    return {
      ledger,
      config,
      gateway,
      async stop(options?: StopOptions) {
        await gateway.close(options);
        await payments?.close();
        await ledger.close();
      },
    };
  } catch (error) {
    await payments?.close();
    await ledger.close();
    throw error;
  }
}
