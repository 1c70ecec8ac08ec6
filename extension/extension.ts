/**
 * Creditgate for VS Code: starts (or joins) the account's gateway in a child process, shows the
 * account in the status bar, warns as the plan allowance runs down, and offers the commands.
 * Everything account-related happens in the gateway process; this side only presents it.
 */
import * as vscode from 'vscode';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import { IssueTokenRequest, SetAutoReloadRequest, SetAutoUseCreditsRequest, SetPlanRequest } from '../shared/rpc';
import { registerCommands } from './commands';
import { USAGE_PANEL_TYPE, UsageView } from './commands/showUsage';
import { GatewayClient } from './gatewayClient';
import { Notifications } from './notifications';
import { classifyChange, explicitAutoReload, explicitAutoUseCredits, explicitPlan, warningThresholds } from './settings';
import { StatusBar } from './statusBar';
import { UpstreamKeys } from './upstreamKeys';

let gateway: GatewayClient | undefined;

/**
 * What `vscode.extensions.getExtension('creditgate.creditgate').exports` offers other extensions
 * and the in-editor test suite (test/vscode/suite/): the account as this window sees it.
 */
export interface CreditgateApi {
  /** The last status pushed to this window; null while the gateway is not running. */
  status(): Status | null;
  /** Which process serves the port (this window's gateway, or one it joined). */
  info(): GatewayInfo | null;
  /** Fires on every status this window receives. */
  readonly onStatus: vscode.Event<Status>;
  /** The status bar item's text as shown, without its icon. */
  statusBarText(): string;
  /** A fresh client token (revoking the previous one of that name), as Connect a Client… issues. */
  issueToken(name: string): Promise<string>;
}

export async function activate(context: vscode.ExtensionContext): Promise<CreditgateApi> {
  const log = vscode.window.createOutputChannel('Creditgate', { log: true });
  gateway = new GatewayClient(context, log);
  const client = gateway;
  const statusBar = new StatusBar();
  const notifications = new Notifications(context.globalState, warningThresholds());
  const keys = new UpstreamKeys(context.secrets, client, log);
  const usage = new UsageView(client, context.extensionUri);
  const tooltipTimer = setInterval(() => statusBar.refreshTooltip(), 30_000);

  context.subscriptions.push(
    log,
    client,
    statusBar,
    usage,
    // Before any await: VS Code restores an open Usage panel as soon as activation registers this.
    vscode.window.registerWebviewPanelSerializer(USAGE_PANEL_TYPE, usage),
    { dispose: () => clearInterval(tooltipTimer) },
    client.onStatus((status) => {
      statusBar.showStatus(status);
      notifications.observe(status);
    }),
    client.onInfo((info) => statusBar.setInfo(info)),
    client.onPhase((phase) => {
      if (phase !== 'running') statusBar.showOffline(phase);
    }),
    client.onReady(() => void keys.handOver()),
    vscode.workspace.onDidChangeConfiguration((event) => void applySettingsChange(event, client, notifications, log)),
    ...registerCommands({ gateway: client, keys, usage, log }),
  );

  await client.start();
  void keys.suggestIfMissing(context.globalState);
  return {
    status: () => client.status,
    info: () => client.info,
    onStatus: client.onStatus,
    statusBarText: () => statusBar.text,
    issueToken: async (name) => (await client.requestWith(IssueTokenRequest, { name })).token,
  };
}

async function applySettingsChange(event: vscode.ConfigurationChangeEvent, client: GatewayClient, notifications: Notifications, log: vscode.LogOutputChannel): Promise<void> {
  const change = classifyChange(event);
  if (!change) return;
  if (change.thresholds) notifications.setThresholds(warningThresholds());
  if (change.restartGateway) {
    log.info('gateway settings changed; restarting the gateway');
    await client.restart();
    return;
  }
  try {
    const plan = explicitPlan();
    if (change.plan && plan !== undefined && plan !== client.status?.plan) await client.changeWith(SetPlanRequest, { plan });
    const autoUse = explicitAutoUseCredits();
    if (change.autoUseCredits && autoUse !== undefined && autoUse !== client.status?.autoUseCredits) {
      await client.changeWith(SetAutoUseCreditsRequest, { on: autoUse });
    }
    const autoReload = explicitAutoReload();
    if (change.autoReload && autoReload !== undefined) await client.changeWith(SetAutoReloadRequest, autoReload);
  } catch (error) {
    void vscode.window.showErrorMessage(`Creditgate: setting not applied: ${(error as Error).message}`);
  }
}

export async function deactivate(): Promise<void> {
  await gateway?.stop();
  gateway = undefined;
}
