/**
 * The one status bar item (docs/product.md §5): updated by push, never by polling. The wording comes from
 * presentation/statusBarModel.ts; the tooltip is rebuilt when shown so its countdowns are current.
 */
import * as vscode from 'vscode';
import type { Status } from '../shared/protocol';
import type { GatewayInfo } from '../shared/rpc';
import type { ConnectionPhase } from './presentation/statusBarModel';
import { offlineText, statusBackground, statusIcon, statusText } from './presentation/statusBarModel';
import { tooltipMarkdown } from './presentation/tooltip';

const BACKGROUNDS = {
  none: undefined,
  warning: new vscode.ThemeColor('statusBarItem.warningBackground'),
  error: new vscode.ThemeColor('statusBarItem.errorBackground'),
} as const;

const OFFLINE_LOOK: Record<Exclude<ConnectionPhase, 'running'>, { icon: string; tooltip: string; command: string }> = {
  starting: { icon: 'sync~spin', tooltip: 'Connecting to the Creditgate gateway…', command: 'creditgate.showLogs' },
  stopped: { icon: 'debug-disconnect', tooltip: 'The Creditgate gateway is not running. Click to restart it.', command: 'creditgate.restartGateway' },
  unreachable: { icon: 'debug-disconnect', tooltip: 'The team gateway cannot be reached; retrying. Click to retry now.', command: 'creditgate.restartGateway' },
  unauthorized: { icon: 'key', tooltip: 'The team gateway needs your member token. Click to enter it.', command: 'creditgate.setTeamToken' },
};

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private info: GatewayInfo | null = null;
  /** The team gateway's URL when attached to one. */
  private server: string | null = null;
  private status: Status | null = null;

  constructor() {
    this.item = vscode.window.createStatusBarItem('creditgate.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Creditgate';
    this.showOffline('starting');
    this.item.show();
  }

  showStatus(status: Status): void {
    this.status = status;
    this.item.text = `$(${statusIcon(status)}) ${statusText(status)}`;
    this.item.backgroundColor = BACKGROUNDS[statusBackground(status)];
    // A member of a team cannot add credits: the panel says whose pool it is instead.
    this.item.command = status.state === 'blocked' && (status.role !== 'member' || status.mayBuyCredits === true) ? 'creditgate.addCredits' : 'creditgate.showUsage';
    this.item.tooltip = this.tooltip(status);
    this.item.accessibilityInformation = { label: `Creditgate: ${statusText(status)}` };
  }

  /**
   * No live status: never leave a dead process's figures on screen. `problem` says why a team gateway
   * is not connected (it is retried, or the token was refused).
   */
  showOffline(phase: Exclude<ConnectionPhase, 'running'>, problem: string | null = null): void {
    this.status = null;
    const look = OFFLINE_LOOK[phase];
    this.item.text = `$(${look.icon}) ${offlineText(phase)}`;
    this.item.backgroundColor = phase === 'unreachable' || phase === 'unauthorized' ? BACKGROUNDS.warning : undefined;
    this.item.tooltip = problem ? `${look.tooltip}\n\n${problem}` : look.tooltip;
    this.item.command = look.command;
    this.item.accessibilityInformation = { label: `Creditgate: ${offlineText(phase)}` };
  }

  /** The item's text without its leading `$(icon)`. */
  get text(): string {
    return this.item.text.replace(/^\$\([^)]*\)\s*/, '');
  }

  setServer(server: string | null): void {
    this.server = server;
    if (this.status) this.item.tooltip = this.tooltip(this.status);
  }

  setInfo(info: GatewayInfo | null): void {
    this.info = info;
    if (this.status) this.item.tooltip = this.tooltip(this.status);
  }

  /** Refreshes the tooltip's countdowns (called on a slow timer while a status is shown). */
  refreshTooltip(): void {
    if (this.status) this.item.tooltip = this.tooltip(this.status);
  }

  dispose(): void {
    this.item.dispose();
  }

  private tooltip(status: Status): vscode.MarkdownString {
    const markdown = new vscode.MarkdownString(tooltipMarkdown(status, { now: Date.now(), info: this.info, server: this.server, locale: vscode.env.language }));
    markdown.supportThemeIcons = true;
    return markdown;
  }
}
