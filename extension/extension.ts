/**
 * Creditgate for VS Code: starts (or joins) the account's gateway in a child process, or attaches to
 * a team gateway (`creditgate.server`), shows the account in the status bar, warns as the plan
 * allowance runs down, and offers the commands. Everything account-related happens in a gateway; this
 * side only presents it.
 */
import * as vscode from 'vscode';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import { IssueTokenRequest, SetAutoReloadRequest, SetAutoUseCreditsRequest, SetPlanRequest } from '../shared/rpc';
import { registerCommands } from './commands';
import { USAGE_PANEL_TYPE, UsageView } from './commands/showUsage';
import { canBuyCredits, canChangeAccount, type AccountConnection } from './accountConnection';
import { ActiveAccount } from './activeAccount';
import { GatewayClient } from './gatewayClient';
import { Notifications } from './notifications';
import { classifyChange, explicitAutoReload, explicitAutoUseCredits, explicitPlan, teamServer, warningThresholds } from './settings';
import { StatusBar } from './statusBar';
import { TeamGatewayClient } from './teamGatewayClient';
import { TeamTokens } from './teamTokens';
import { UpstreamKeys } from './upstreamKeys';

let active: ActiveAccount | undefined;

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
  const local = new GatewayClient(context, log);
  const tokens = new TeamTokens(context.secrets);
  /** The gateway `creditgate.server` names: the local one when empty or invalid (said once). */
  const chosenConnection = (): AccountConnection => {
    const server = teamServer();
    if (!server.ok) void vscode.window.showErrorMessage(`Creditgate: ${server.message}. Using the local gateway.`);
    return server.ok && server.value !== null ? new TeamGatewayClient(server.value, tokens, log) : local;
  };
  active = new ActiveAccount(chosenConnection());
  const account = active;
  const statusBar = new StatusBar();
  const notifications = new Notifications(context.globalState, warningThresholds());
  const keys = new UpstreamKeys(context.secrets, local, log);
  const usage = new UsageView(account, context.extensionUri);
  const tooltipTimer = setInterval(() => statusBar.refreshTooltip(), 30_000);
  const showRole = (): void => {
    // package.json's `when` clauses: a team member sees no command that changes the account.
    void vscode.commands.executeCommand('setContext', 'creditgate.team', account.server !== null);
    void vscode.commands.executeCommand('setContext', 'creditgate.canChangeAccount', canChangeAccount(account));
    void vscode.commands.executeCommand('setContext', 'creditgate.canBuyCredits', canBuyCredits(account));
  };

  context.subscriptions.push(
    log,
    account,
    local,
    statusBar,
    usage,
    // Before any await: VS Code restores an open Usage panel as soon as activation registers this.
    vscode.window.registerWebviewPanelSerializer(USAGE_PANEL_TYPE, usage),
    { dispose: () => clearInterval(tooltipTimer) },
    account.onStatus((status) => {
      statusBar.showStatus(status);
      notifications.observe(status);
      showRole();
    }),
    account.onInfo((info) => statusBar.setInfo(info)),
    account.onPhase((phase) => {
      if (phase !== 'running') statusBar.showOffline(phase, account.problem);
      showRole();
    }),
    account.onDidSwitch((connection) => statusBar.setServer(connection.server)),
    local.onReady(() => void keys.handOver()),
    vscode.workspace.onDidChangeConfiguration((event) => void applySettingsChange(event, account, chosenConnection, notifications, log)),
    ...registerCommands({ gateway: account, keys, usage, log, setTeamToken: () => setTeamToken(account) }),
  );

  statusBar.setServer(account.server);
  showRole();
  await account.start();
  if (account.server === null) void keys.suggestIfMissing(context.globalState);
  return {
    status: () => account.status,
    info: () => account.info,
    onStatus: account.onStatus,
    statusBarText: () => statusBar.text,
    issueToken: async (name) => (await account.requestWith(IssueTokenRequest, { name })).token,
  };
}

async function setTeamToken(account: ActiveAccount): Promise<void> {
  const connection = account.connection;
  if (connection instanceof TeamGatewayClient) return connection.askForToken();
  const choice = await vscode.window.showInformationMessage(
    'Creditgate: set `creditgate.server` to your team gateway\'s URL first; the token is asked for then.',
    'Open Settings',
  );
  if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', 'creditgate.server');
}

async function applySettingsChange(
  event: vscode.ConfigurationChangeEvent,
  account: ActiveAccount,
  chosenConnection: () => AccountConnection,
  notifications: Notifications,
  log: vscode.LogOutputChannel,
): Promise<void> {
  const change = classifyChange(event);
  if (!change) return;
  if (change.thresholds) notifications.setThresholds(warningThresholds());
  if (change.server) {
    const next = chosenConnection();
    if (next.server === account.server) return;
    const previous = account.connection;
    log.info(next.server ? `creditgate.server changed: attaching to the team gateway ${next.server}` : 'creditgate.server cleared: using the local gateway');
    await account.switchTo(next);
    // A team client serves one server only; the local client is kept for when the setting is cleared.
    if (previous.server !== null) previous.dispose();
    return;
  }
  // The other settings are the local gateway's (a team's plans and settings are its admins').
  if (account.server !== null) return;
  if (change.restartGateway) {
    log.info('gateway settings changed; restarting the gateway');
    await account.restart();
    return;
  }
  try {
    const plan = explicitPlan();
    if (change.plan && plan !== undefined && plan !== account.status?.plan) await account.changeWith(SetPlanRequest, { plan });
    const autoUse = explicitAutoUseCredits();
    if (change.autoUseCredits && autoUse !== undefined && autoUse !== account.status?.autoUseCredits) {
      await account.changeWith(SetAutoUseCreditsRequest, { on: autoUse });
    }
    const autoReload = explicitAutoReload();
    if (change.autoReload && autoReload !== undefined) await account.changeWith(SetAutoReloadRequest, autoReload);
  } catch (error) {
    void vscode.window.showErrorMessage(`Creditgate: setting not applied: ${(error as Error).message}`);
  }
}

export async function deactivate(): Promise<void> {
  await active?.stop();
  active = undefined;
}
