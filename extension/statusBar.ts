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

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private info: GatewayInfo | null = null;
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
    this.item.command = status.state === 'blocked' ? 'creditgate.addCredits' : 'creditgate.showUsage';
    this.item.tooltip = this.tooltip(status);
    this.item.accessibilityInformation = { label: `Creditgate: ${statusText(status)}` };
  }

  /** No live process: never leave a dead process's figures on screen. */
  showOffline(phase: ConnectionPhase): void {
    this.status = null;
    this.item.text = phase === 'stopped' ? `$(debug-disconnect) ${offlineText(phase)}` : `$(sync~spin) ${offlineText(phase)}`;
    this.item.backgroundColor = undefined;
    this.item.tooltip = phase === 'stopped' ? 'The Creditgate gateway is not running. Click to restart it.' : 'Starting the Creditgate gateway…';
    this.item.command = phase === 'stopped' ? 'creditgate.restartGateway' : 'creditgate.showLogs';
  }

  /** The item's text without its leading `$(icon)`. */
  get text(): string {
    return this.item.text.replace(/^\$\([^)]*\)\s*/, '');
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
    const markdown = new vscode.MarkdownString(tooltipMarkdown(status, { now: Date.now(), info: this.info, locale: vscode.env.language }));
    markdown.supportThemeIcons = true;
    return markdown;
  }
}
