/**
 * The extension's settings (docs/product.md §5, contract names), resolved into what the gateway process needs.
 * A setting left at its default yields to the environment (CREDITGATE_PORT, CREDITGATE_DATA_DIR,
 * CREDITGATE_CONFIG), which the gateway process inherits; so only explicitly set values are passed on.
 */
import * as vscode from 'vscode';
import type { GatewayInitOptions } from '../shared/rpc';
import { parseBaseUrl, type Parsed } from '../proxy/config/values';
import { DEFAULT_THRESHOLDS, normalizeThresholds } from './presentation/alerts';

export const SECTION = 'creditgate';

/** Settings whose change needs the gateway process restarted (it reads them once, at start). */
const RESTART_KEYS = ['port', 'dataDirectory', 'configFile', 'rateCardFile', 'runtime'] as const;

function configuration(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/** The value the user set somewhere (user, workspace, folder), or undefined when left at the default. */
function explicit<T>(key: string): T | undefined {
  const inspected = configuration().inspect<T>(key);
  if (!inspected) return undefined;
  return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue;
}

const nonEmpty = (value: string | undefined): string | undefined => (value?.trim() ? value.trim() : undefined);

export function gatewayInitOptions(): GatewayInitOptions {
  const port = explicit<number>('port');
  return {
    dataDir: nonEmpty(explicit<string>('dataDirectory')),
    configFile: nonEmpty(explicit<string>('configFile')),
    port: typeof port === 'number' ? port : undefined,
    plan: nonEmpty(explicit<string>('plan')),
    autoUseCredits: explicit<boolean>('autoUseCredits'),
    // Validated by the gateway (shared/requests.ts autoReloadSchema); a malformed object is ignored there.
    autoReload: explicit<GatewayInitOptions['autoReload']>('autoReload'),
  };
}

/** Extra environment for the gateway process, for settings the config file also knows. */
export function gatewayEnvironment(): Record<string, string> {
  const rateCardFile = nonEmpty(explicit<string>('rateCardFile'));
  return rateCardFile ? { CREDITGATE_RATE_CARD_FILE: rateCardFile } : {};
}

/** The Node that runs the gateway: the setting, else the extension host's own runtime. */
export function runtimePath(): string {
  return nonEmpty(explicit<string>('runtime')) ?? process.execPath;
}

export function warningThresholds(): number[] {
  const value = configuration().get<unknown>('warningThresholds');
  const thresholds = Array.isArray(value) ? normalizeThresholds(value) : [];
  return thresholds.length > 0 ? thresholds : [...DEFAULT_THRESHOLDS];
}

export function explicitPlan(): string | undefined {
  return nonEmpty(explicit<string>('plan'));
}

export function explicitAutoUseCredits(): boolean | undefined {
  return explicit<boolean>('autoUseCredits');
}

/**
 * `creditgate.server`: the team gateway to attach to (an http(s) URL without credentials; tokens live
 * in SecretStorage), or null for the local gateway when empty.
 */
export function teamServer(): Parsed<string | null> {
  const text = nonEmpty(configuration().get<string>('server'));
  if (text === undefined) return { ok: true, value: null };
  const parsed = parseBaseUrl(text);
  return parsed.ok ? parsed : { ok: false, message: `creditgate.server: ${parsed.message}` };
}

export interface SettingsChange {
  /** `creditgate.server`: attach to another gateway. */
  server: boolean;
  restartGateway: boolean;
  thresholds: boolean;
  plan: boolean;
  autoUseCredits: boolean;
  autoReload: boolean;
}

export function classifyChange(event: vscode.ConfigurationChangeEvent): SettingsChange | null {
  if (!event.affectsConfiguration(SECTION)) return null;
  const affects = (key: string): boolean => event.affectsConfiguration(`${SECTION}.${key}`);
  return {
    server: affects('server'),
    restartGateway: RESTART_KEYS.some(affects),
    thresholds: affects('warningThresholds'),
    plan: affects('plan'),
    autoUseCredits: affects('autoUseCredits'),
    autoReload: affects('autoReload'),
  };
}

/** Writes a setting where the user keeps it (workspace if set there, else user settings). */
export async function updateSetting(key: string, value: unknown): Promise<void> {
  const inspected = configuration().inspect(key);
  const target =
    inspected?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await configuration().update(key, value, target);
}

/** Validated by the gateway (autoReloadSchema); a malformed object is refused there with a message. */
export function explicitAutoReload(): GatewayInitOptions['autoReload'] {
  return explicit<GatewayInitOptions['autoReload']>('autoReload');
}
