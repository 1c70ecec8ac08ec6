/**
 * Wires the parts into a running account: config → ledger → estimator → gateway. Used by the CLI
 * (`creditgate serve` and the one-shot commands) and by the gateway process the extension starts.
 */
import path from 'node:path';
import type { ResolvedConfig } from './config';
import { loadConfig, resolveConfigFile, resolveDataDir } from './config';
import { rememberAccountRules, rememberedRulesFile } from './config/remembered';
import { DATABASE_FILE, preparePrivateDataDir } from './dataDir';
import { GatewayLock } from './gatewayLock';
import type { Logger } from './gateway/context';
import { Gateway, type GatewayOptions, type StopOptions } from './gateway/server';
import { UpstreamKeys } from './gateway/upstream';
import { Ledger } from './ledger/ledger';
import { admissionEstimator } from './pricing/admissionEstimator';

export interface RuntimeLocation {
  dataDir?: string;
  configFile?: string;
}

export interface Account {
  dataDir: string;
  config: ResolvedConfig;
  ledger: Ledger;
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
  const dataDir = resolveDataDir({ dataDir: location.dataDir, env });
  preparePrivateDataDir(dataDir, log);
  const given = resolveConfigFile(location.configFile, env);
  const config = loadConfig({ configFile: given ?? (role === 'command' ? rememberedRulesFile(dataDir) : null), env });
  const ledger = Ledger.open({
    path: path.join(dataDir, DATABASE_FILE),
    rateCard: config.rateCard,
    plans: config.plans,
    initialPlan: config.plan,
    initialAutoUseCredits: config.autoUseCredits,
    busyTimeoutMs: config.ledgerBusyTimeoutMs,
  });
  return { dataDir, config, ledger };
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

export interface RunningGateway {
  account: Account;
  gateway: Gateway;
  /** Stops gracefully (see Gateway.close), then closes the ledger and releases the data directory. */
  stop(options?: StopOptions): Promise<void>;
}

/** Starts the gateway on the account: one per data directory, holds of a dead gateway settled first. */
export async function serveGateway(
  location: RuntimeLocation & { port?: number },
  env: NodeJS.ProcessEnv,
  log: Logger,
  keys: UpstreamKeys = UpstreamKeys.fromEnv(env),
): Promise<RunningGateway> {
  const account = openAccount(location, env, log, 'gateway');
  let lock: GatewayLock;
  try {
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
