/**
 * "Show Usage" (also the status bar's click): the Usage panel, a webview rendered by
 * webview/usagePanel.ts. This side owns the view settings and the data: it loads them through the
 * gateway's JSON-RPC (presentation/usagePanelData.ts), pushes every status to the gauges at once,
 * reloads the rest at most every 2 s while statuses arrive, and saves the range's rows as CSV.
 */
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import type { Status } from '../../shared/protocol';
import { toCsv, USAGE_ROW_COLUMNS } from '../../proxy/usageCsv';
import type { AccountConnection } from '../accountConnection';
import { usagePanelHtml } from '../presentation/usagePanelHtml';
import { UsagePanelData } from '../presentation/usagePanelData';
import { Throttle } from '../presentation/usageThrottle';
import type { PanelView, ToWebview } from '../webview/messages';
import { DEFAULT_VIEW, parseFromWebview, restoredView } from '../webview/messages';

const REFRESH_MS = 2_000;

/** The panel's type, also named in package.json's `onWebviewPanel:` activation event. */
export const USAGE_PANEL_TYPE = 'creditgate.usage';

export class UsageView implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private panel: vscode.WebviewPanel | null = null;
  private view: PanelView = DEFAULT_VIEW;
  private readonly data: UsagePanelData;
  private readonly refresh = new Throttle(() => void this.load(), REFRESH_MS);
  /** Drops a load's result when a newer load started meanwhile (the view changed). */
  private loadSeq = 0;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly gateway: AccountConnection,
    /** The extension's folder: the panel loads dist/webview/ from it. */
    private readonly extensionUri: vscode.Uri,
  ) {
    this.data = new UsagePanelData(gateway);
    this.subscriptions = [
      gateway.onStatus((status) => {
        this.postStatus(status);
        this.refresh.schedule();
      }),
      gateway.onPhase((phase) => {
        if (phase === 'running') this.refresh.schedule();
        else this.postStatus(null);
      }),
    ];
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    this.attach(vscode.window.createWebviewPanel(USAGE_PANEL_TYPE, 'Creditgate Usage', vscode.ViewColumn.Active, this.webviewOptions()));
  }

  /** VS Code restores a panel that was open when the window reloaded, with the view it showed. */
  deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    if (this.panel) {
      // There is one Usage panel: one already open wins over a restored one.
      panel.dispose();
    } else {
      this.view = restoredView(state);
      panel.webview.options = this.webviewOptions();
      this.attach(panel);
    }
    return Promise.resolve();
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [this.webviewRoot()] };
  }

  private webviewRoot(): vscode.Uri {
    return vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
  }

  private attach(panel: vscode.WebviewPanel): void {
    const webviewRoot = this.webviewRoot();
    panel.webview.html = usagePanelHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, 'usagePanel.js')).toString(),
      nonce: randomBytes(16).toString('base64'),
    });
    panel.webview.onDidReceiveMessage((raw) => void this.onMessage(raw));
    panel.onDidDispose(() => {
      this.panel = null;
      this.refresh.cancel();
    });
    this.panel = panel;
  }

  dispose(): void {
    this.refresh.cancel();
    for (const subscription of this.subscriptions) subscription.dispose();
    this.panel?.dispose();
  }

  private async onMessage(raw: unknown): Promise<void> {
    const message = parseFromWebview(raw);
    switch (message?.type) {
      case 'ready':
        // Sent on every load of the page, including when a hidden panel is shown again.
        this.postStatus(this.gateway.status);
        await this.load();
        break;
      case 'setView':
        this.view = message.view;
        await this.load();
        break;
      case 'exportCsv':
        await this.exportCsv();
        this.post({ type: 'exportFinished' });
        break;
      default:
        break;
    }
  }

  private async load(): Promise<void> {
    if (!this.panel) return;
    const seq = ++this.loadSeq;
    const view = this.view;
    try {
      const data = await this.data.load(view, this.gateway.status, Date.now());
      if (seq === this.loadSeq) this.post({ type: 'data', data });
    } catch (error) {
      if (seq === this.loadSeq) this.post({ type: 'error', message: `Usage could not be loaded: ${(error as Error).message}` });
    }
  }

  private async exportCsv(): Promise<void> {
    const view = this.view;
    try {
      const now = Date.now();
      const rows = await this.data.rows(view, now);
      const day = new Date(now).toISOString().slice(0, 10);
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
      const name = `creditgate-usage-${view.rangeDays}d-${day}.csv`;
      const target = await vscode.window.showSaveDialog({
        title: `Export ${rows.length.toLocaleString()} usage rows (last ${view.rangeDays} days)`,
        defaultUri: vscode.Uri.joinPath(folder, name),
        filters: { CSV: ['csv'] },
        saveLabel: 'Export',
      });
      if (!target) return;
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(toCsv(rows, USAGE_ROW_COLUMNS)));
      const open = await vscode.window.showInformationMessage(`Creditgate: saved ${rows.length.toLocaleString()} usage rows to ${vscode.workspace.asRelativePath(target)}.`, 'Open');
      if (open) await vscode.window.showTextDocument(target);
    } catch (error) {
      void vscode.window.showErrorMessage(`Creditgate: the usage could not be exported: ${(error as Error).message}`);
    }
  }

  private postStatus(status: Status | null): void {
    this.post({ type: 'status', status });
  }

  private post(message: ToWebview): void {
    void this.panel?.webview.postMessage(message);
  }
}
