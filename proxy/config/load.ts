/**
 * Loads the configuration: the file (optional) validated strictly, its rate card (inline, from
 * `rateCardFile`, or the shipped default), built-in plans overlaid by the file's, then environment
 * overrides. Every problem is collected and thrown together as one ConfigError.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Micro } from '../../shared/money';
import { creditsToMicro } from '../../shared/money';
import type { PlanDefinition } from '../../shared/plans';
import { FEATURES, resolvePlans } from '../../shared/plans';
import type { RateCard } from '../../shared/rateCard';
import { rateCardSchema } from '../../shared/rateCard';
import { defaultRateCard } from '../pricing/defaultRateCard';
import {
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_OVERSPEND_MARGIN_CREDITS,
  DEFAULT_HOST,
  DEFAULT_PLAN,
  DEFAULT_PORT,
  DEFAULT_REQUEST_BODY_TIMEOUT_MS,
  DEFAULT_REQUEST_HEADERS_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_INTER_BYTE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  DEFAULT_UPSTREAMS,
} from './defaults';
import { DEFAULT_BUSY_TIMEOUT_MS } from '../ledger/connection';
import { readEnvOverrides } from './env';
import { ConfigError } from './errors';
import { describeIssues } from './issues';
import type { ConfigFile } from './schema';
import { configFileSchema } from './schema';

/** Auto-reload in the ledger's units (micro-credits); null when absent or disabled. */
export interface AutoReloadConfig {
  threshold: Micro;
  target: Micro;
  maxPerMonth: number;
}

export interface ResolvedConfig {
  /** The plan a new account starts on (`creditgate plan set` changes the account's plan later). */
  plan: string;
  plans: Record<string, PlanDefinition>;
  rateCard: RateCard;
  autoUseCredits: boolean;
  upstreams: { openai: { baseUrl: string }; anthropic: { baseUrl: string } };
  port: number;
  /** Where `creditgate serve` listens (an IP address); the editor's own gateway always uses loopback. */
  host: string;
  /** Host header names `creditgate serve` answers besides the loopback ones. */
  allowedHosts: string[];
  /** Certificate and key files for `creditgate serve` to serve HTTPS with (absolute paths), or null. */
  tls: { certFile: string; keyFile: string } | null;
  maxBodyBytes: number;
  /** How far past what is left a request admitted on the last of the allowance or credits may go. */
  overspendMargin: Micro;
  /** How long a non-streaming request waits for its answer to begin. */
  upstreamTimeoutMs: number;
  /** How long a streaming request waits for the upstream's first byte. */
  upstreamFirstByteTimeoutMs: number;
  /** The longest silence from the upstream once its answer has begun. */
  upstreamInterByteTimeoutMs: number;
  /** How long a client may take to send its request's headers. */
  requestHeadersTimeoutMs: number;
  /** How long a client may take to send its whole request, headers and body (never the response). */
  requestBodyTimeoutMs: number;
  /** How long a kept-alive connection may sit idle between requests. */
  keepAliveTimeoutMs: number;
  /** Connections served at once; the excess is answered 503 at once. */
  maxConnections: number;
  /** How long a stopping gateway lets requests in flight finish before it ends them. */
  shutdownGraceMs: number;
  /** How long a ledger write waits for another process's lock before failing as busy. */
  ledgerBusyTimeoutMs: number;
  autoReload: AutoReloadConfig | null;
  /** The PostgreSQL URL of a shared ledger (team mode), or null for the data directory's SQLite file. */
  database: string | null;
  /** Absolute path of the file read, or null when running on defaults. */
  configFile: string | null;
}

/** Reads and parses a JSON file; failures become issue lines naming the file. */
function readJson(file: string, label: string): { ok: true; value: unknown } | { ok: false; issue: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(error)})`;
    return { ok: false, issue: `${label}: ${reason}` };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, issue: `${label}: invalid JSON: ${(error as Error).message}` };
  }
}

/** `label` names where the reference came from (the config file, or an environment variable). */
function loadRateCardFile(label: string, baseDir: string, ref: string, issues: string[]): RateCard | null {
  const file = path.resolve(baseDir, ref);
  const json = readJson(file, file);
  if (!json.ok) {
    issues.push(`${label}: ${json.issue}`);
    return null;
  }
  const parsed = rateCardSchema.safeParse(json.value, { reportInput: true });
  if (parsed.success) return parsed.data;
  issues.push(...describeIssues(parsed.error).map((line) => `${file}: ${line}`));
  return null;
}

function resolveRateCard(file: ConfigFile, configFile: string | null, envRateCardFile: string | undefined, issues: string[]): RateCard | null {
  if (envRateCardFile !== undefined) {
    return loadRateCardFile('CREDITGATE_RATE_CARD_FILE', process.cwd(), envRateCardFile, issues);
  }
  if (file.rateCard && file.rateCardFile !== undefined) {
    issues.push(`${configFile}: rateCard, rateCardFile: give the rate card inline or as a file, not both`);
    return null;
  }
  if (file.rateCard) return file.rateCard;
  // Relative to the config file, so a config and its card can move together.
  if (file.rateCardFile !== undefined && configFile) {
    return loadRateCardFile(`${configFile}: rateCardFile`, path.dirname(configFile), file.rateCardFile, issues);
  }
  return defaultRateCard();
}

/** A feature typo in a plan would silently cover nothing; known = built-ins + the card's features. */
function checkPlanFeatures(file: ConfigFile, rateCard: RateCard, label: string, issues: string[]): void {
  const known = new Set<string>([...FEATURES, ...Object.values(rateCard.models).map((rate) => rate.feature)]);
  for (const [name, plan] of Object.entries(file.plans ?? {})) {
    plan.features.forEach((feature, index) => {
      if (known.has(feature)) return;
      issues.push(`${label}: plans.${name}.features[${index}]: unknown feature "${feature}" (known: ${[...known].sort().join(', ')})`);
    });
  }
}

function toAutoReload(reload: ConfigFile['autoReload']): AutoReloadConfig | null {
  if (!reload?.enabled) return null;
  // The schema already proved both amounts have at most six decimals.
  return { threshold: creditsToMicro(reload.threshold) ?? 0, target: creditsToMicro(reload.target) ?? 0, maxPerMonth: reload.maxPerMonth };
}

function readConfigFile(configFile: string | null, issues: string[]): ConfigFile | null {
  if (configFile === null) return {};
  const json = readJson(configFile, configFile);
  if (!json.ok) {
    issues.push(json.issue);
    return null;
  }
  const parsed = configFileSchema.safeParse(json.value, { reportInput: true });
  if (parsed.success) return parsed.data;
  issues.push(...describeIssues(parsed.error).map((line) => `${configFile}: ${line}`));
  return null;
}

export function loadConfig(options: { configFile?: string | null; env?: NodeJS.ProcessEnv } = {}): ResolvedConfig {
  const configFile = options.configFile ? path.resolve(options.configFile) : null;
  const issues: string[] = [];
  const env = readEnvOverrides(options.env ?? process.env);
  issues.push(...env.issues);
  const file = readConfigFile(configFile, issues);
  if (!file) throw new ConfigError(issues);

  const rateCard = resolveRateCard(file, configFile, env.overrides.rateCardFile, issues);
  const label = configFile ?? 'config';
  if (rateCard) checkPlanFeatures(file, rateCard, label, issues);
  const plans = resolvePlans(file.plans);
  const plan = file.plan ?? DEFAULT_PLAN;
  if (!Object.hasOwn(plans, plan)) {
    issues.push(`${label}: plan: unknown plan "${plan}" (known: ${Object.keys(plans).sort().join(', ')})`);
  }
  const requestHeadersTimeoutMs = file.requestHeadersTimeoutMs ?? DEFAULT_REQUEST_HEADERS_TIMEOUT_MS;
  const requestBodyTimeoutMs = file.requestBodyTimeoutMs ?? DEFAULT_REQUEST_BODY_TIMEOUT_MS;
  // The body's deadline counts from the request's first byte, so it includes the headers' time.
  if (requestHeadersTimeoutMs > requestBodyTimeoutMs) {
    issues.push(`${label}: requestHeadersTimeoutMs: must not exceed requestBodyTimeoutMs (${requestBodyTimeoutMs}), which includes the headers`);
  }
  if (issues.length > 0 || !rateCard) throw new ConfigError(issues);

  return {
    plan,
    plans,
    rateCard,
    autoUseCredits: file.autoUseCredits ?? true,
    upstreams: {
      openai: { baseUrl: env.overrides.openaiBaseUrl ?? file.upstreams?.openai?.baseUrl ?? DEFAULT_UPSTREAMS.openai.baseUrl },
      anthropic: {
        baseUrl: env.overrides.anthropicBaseUrl ?? file.upstreams?.anthropic?.baseUrl ?? DEFAULT_UPSTREAMS.anthropic.baseUrl,
      },
    },
    port: env.overrides.port ?? file.port ?? DEFAULT_PORT,
    host: file.host ?? DEFAULT_HOST,
    allowedHosts: file.allowedHosts ?? [],
    // Relative to the config file, like rateCardFile.
    tls: file.tls && configFile ? { certFile: path.resolve(path.dirname(configFile), file.tls.cert), keyFile: path.resolve(path.dirname(configFile), file.tls.key) } : null,
    maxBodyBytes: file.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    overspendMargin: creditsToMicro(file.overspendMargin ?? DEFAULT_OVERSPEND_MARGIN_CREDITS)!,
    upstreamTimeoutMs: file.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS,
    upstreamFirstByteTimeoutMs: file.upstreamFirstByteTimeoutMs ?? DEFAULT_UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    upstreamInterByteTimeoutMs: file.upstreamInterByteTimeoutMs ?? DEFAULT_UPSTREAM_INTER_BYTE_TIMEOUT_MS,
    requestHeadersTimeoutMs,
    requestBodyTimeoutMs,
    keepAliveTimeoutMs: file.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: file.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    shutdownGraceMs: file.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    ledgerBusyTimeoutMs: file.ledgerBusyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    autoReload: toAutoReload(file.autoReload),
    database: env.overrides.database ?? file.database ?? null,
    configFile,
  };
}
