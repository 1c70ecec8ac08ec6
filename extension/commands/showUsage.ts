/**
 * "Show Usage": for now a static webview of the last 30 days grouped by day, model, client and
 * feature (presentation/usageHtml.ts). The charts panel of SPEC §5 is a later task.
 */
import * as vscode from 'vscode';
import type { UsageGroup, UsageGroupKey } from '../../shared/protocol';
import { USAGE_GROUP_KEYS } from '../../shared/protocol';
import { UsageRequest } from '../../shared/rpc';
import type { GatewayClient } from '../gatewayClient';
import { usageHtml } from '../presentation/usageHtml';

const DAYS = 30;

export class UsageView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | null = null;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly gateway: GatewayClient) {
    // Refresh an open panel when the account changes, at most once every 2 s.
    let timer: NodeJS.Timeout | null = null;
    this.subscription = gateway.onStatus(() => {
      if (!this.panel || timer) return;
      timer = setTimeout(() => {
        timer = null;
        void this.render();
      }, 2_000);
    });
  }

  async show(): Promise<void> {
    if (this.panel) {
      this.panel.reveal();
    } else {
      this.panel = vscode.window.createWebviewPanel('creditgate.usage', 'Creditgate Usage', vscode.ViewColumn.Active, { enableScripts: false });
      this.panel.onDidDispose(() => (this.panel = null));
    }
    await this.render();
  }

  dispose(): void {
    this.subscription.dispose();
    this.panel?.dispose();
  }

  private async render(): Promise<void> {
    const panel = this.panel;
    if (!panel) return;
    const since = new Date(Date.now() - DAYS * 86_400_000);
    since.setHours(0, 0, 0, 0);
    const groups: Partial<Record<UsageGroupKey, UsageGroup[]>> = {};
    try {
      for (const key of USAGE_GROUP_KEYS) {
        const result = await this.gateway.requestWith(UsageRequest, { since: since.toISOString(), groupBy: key });
        if (result.kind === 'groups') groups[key] = result.groups;
      }
    } catch {
      // The gateway is not running: show what we have (the summary says so).
    }
    panel.webview.html = usageHtml({ status: this.gateway.status, groups, sinceLabel: since.toLocaleDateString() }, panel.webview.cspSource);
  }
}
