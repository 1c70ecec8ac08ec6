/**
 * Interim Show Usage view: the two windows and the balance, then tables of the last 30 days by day,
 * model, client and feature. Static HTML under a strict CSP (no scripts), in the theme's colours.
 * The charts panel of SPEC §5 (gauges, history, CSV export) replaces it later.
 */
import type { Status, UsageGroup, UsageGroupKey } from '../../shared/protocol';
import { formatCr, formatCredits, formatPercent } from './format';

export interface UsageSections {
  status: Status | null;
  groups: Partial<Record<UsageGroupKey, UsageGroup[]>>;
  sinceLabel: string;
}

const TITLES: Record<UsageGroupKey, string> = { day: 'By day', model: 'By model', client: 'By client', feature: 'By feature' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const integer = new Intl.NumberFormat('en-US');

function table(key: UsageGroupKey, groups: UsageGroup[]): string {
  const rows = groups
    .map(
      (g) =>
        `<tr><td>${escapeHtml(g.key)}</td><td class="n">${integer.format(g.requests)}</td><td class="n">${formatCredits(g.cost)}</td>` +
        `<td class="n">${integer.format(g.inputTokens)}</td><td class="n">${integer.format(g.outputTokens)}</td></tr>`,
    )
    .join('');
  const body = rows || '<tr><td colspan="5" class="empty">No requests.</td></tr>';
  return `<h2>${TITLES[key]}</h2><table><thead><tr><th>${key}</th><th class="n">requests</th><th class="n">credits</th><th class="n">input tokens</th><th class="n">output tokens</th></tr></thead><tbody>${body}</tbody></table>`;
}

function summary(status: Status | null): string {
  if (!status) return '<p>The gateway is not running.</p>';
  const windows = status.windows
    .map((w) => `<li>${escapeHtml(w.name)}: ${w.limit > 0 ? `${formatPercent(w.usedPercent)} used of ${formatCr(w.limit)}` : 'no allowance'}</li>`)
    .join('');
  return `<p>Plan <b>${escapeHtml(status.plan)}</b>, state <b>${status.state}</b>. Balance <b>${formatCr(status.credits.balance)}</b> (held ${formatCr(status.credits.held)}).</p><ul>${windows}</ul>`;
}

export function usageHtml(sections: UsageSections, cspSource: string): string {
  const tables = (Object.keys(TITLES) as UsageGroupKey[])
    .filter((key) => sections.groups[key])
    .map((key) => table(key, sections.groups[key] ?? []))
    .join('');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline';">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Creditgate usage</title>
<style>
body{font-family:var(--vscode-font-family);color:var(--vscode-foreground);background:var(--vscode-editor-background);padding:0 16px}
table{border-collapse:collapse;margin-bottom:16px;min-width:480px}
th,td{padding:3px 10px;border-bottom:1px solid var(--vscode-panel-border);text-align:left}
.n{text-align:right;font-variant-numeric:tabular-nums}.empty{color:var(--vscode-descriptionForeground)}
</style></head><body><h1>Creditgate usage</h1>${summary(sections.status)}<p>Since ${escapeHtml(sections.sinceLabel)}.</p>${tables}</body></html>`;
}
