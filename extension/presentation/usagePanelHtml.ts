/**
 * The Usage panel's page: a static skeleton that webview/usagePanel.ts fills in, under a strict CSP
 * (nothing but the bundled script and the nonce'd style; no inline handlers, no remote resources),
 * styled with the theme's CSS variables so it reads in light, dark and high-contrast themes.
 */
import { RANGE_DAYS, SPLIT_KEYS } from '../webview/messages';

export interface PanelPage {
  /** webview.cspSource */
  cspSource: string;
  /** webview.asWebviewUri of dist/webview/usagePanel.js */
  scriptUri: string;
  /** Fresh per render: allows exactly this page's script and style. */
  nonce: string;
}

const SPLIT_LABEL: Record<(typeof SPLIT_KEYS)[number], string> = { model: 'Model', client: 'Client', feature: 'Feature' };

const STYLE = `
:root { color-scheme: light dark; }
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground);
  background: var(--vscode-editor-background); margin: 0; padding: 16px 24px 32px; }
h1 { font-size: 1.5em; font-weight: 600; margin: 0 0 4px; }
h2 { font-size: 1.1em; font-weight: 600; margin: 0 0 8px; }
.muted { color: var(--vscode-descriptionForeground); margin: 0; }
header { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-end; justify-content: space-between; margin-bottom: 16px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
.segmented { display: inline-flex; border: 1px solid var(--vscode-button-border, var(--vscode-contrastBorder, transparent)); border-radius: 4px; overflow: hidden; }
button { font: inherit; cursor: pointer; border: none; padding: 4px 12px; border-radius: 0;
  color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
.segmented button[aria-pressed="true"] { color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
button.primary { border-radius: 4px; color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
button.primary:hover { background: var(--vscode-button-hoverBackground); }
button:disabled { opacity: 0.6; cursor: default; }
.banner { padding: 8px 12px; margin-bottom: 16px; border-radius: 4px; border: 1px solid var(--vscode-inputValidation-errorBorder);
  background: var(--vscode-inputValidation-errorBackground); color: var(--vscode-foreground); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 16px; margin-bottom: 16px; }
.card { background: var(--vscode-sideBar-background, var(--vscode-editorWidget-background)); border: 1px solid var(--vscode-panel-border, transparent);
  border-radius: 6px; padding: 12px 16px; }
section.card { margin-bottom: 16px; }
.gauge-arc { position: relative; height: 110px; max-width: 220px; margin: 0 auto; }
.gauge-value { position: absolute; left: 0; right: 0; bottom: 4px; text-align: center; font-size: 1.6em; font-weight: 600; font-variant-numeric: tabular-nums; }
.gauge p, .credits p { margin: 4px 0 0; text-align: center; }
.gauge[data-level="warning"] .gauge-value { color: var(--vscode-charts-yellow); }
.gauge[data-level="exhausted"] .gauge-value { color: var(--vscode-errorForeground); }
.credits dl { display: grid; grid-template-columns: auto 1fr; gap: 6px 16px; margin: 8px 0 0; font-variant-numeric: tabular-nums; }
.credits dt { color: var(--vscode-descriptionForeground); }
.credits dd { margin: 0; text-align: right; }
.credits .balance { font-size: 1.6em; font-weight: 600; }
.credits .negative { color: var(--vscode-errorForeground); }
.chart { position: relative; height: 280px; }
.empty { color: var(--vscode-descriptionForeground); text-align: center; padding: 24px 0; margin: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
th { font-weight: 600; color: var(--vscode-descriptionForeground); }
td.n, th.n { text-align: right; }
.expired { color: var(--vscode-descriptionForeground); text-decoration: line-through; }
.cards-group { display: contents; }
[hidden] { display: none !important; }
`;

export function usagePanelHtml(page: PanelPage): string {
  const { cspSource, scriptUri, nonce } = page;
  const csp = [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const ranges = RANGE_DAYS.map((days) => `<button type="button" data-range="${days}" aria-pressed="false">${days} days</button>`).join('');
  const splits = SPLIT_KEYS.map((key) => `<button type="button" data-split="${key}" aria-pressed="false">${SPLIT_LABEL[key]}</button>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Creditgate Usage</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <div><h1>Creditgate usage</h1><p class="muted" id="status-line">Connecting to the gateway…</p></div>
  <div class="toolbar">
    <div class="segmented" role="group" aria-label="Range">${ranges}</div>
    <div class="segmented" role="group" aria-label="Split usage by">${splits}</div>
    <button type="button" class="primary" id="export">Export CSV</button>
  </div>
</header>
<div class="banner" id="error" role="alert" hidden></div>
<section class="cards" aria-label="Plan windows and credits">
  <div id="gauges" class="cards-group"></div>
  <article class="card credits" aria-labelledby="credits-title">
    <h2 id="credits-title">Credits</h2>
    <dl>
      <dt>Balance</dt><dd class="balance" id="balance">—</dd>
      <dt>Held</dt><dd id="held">—</dd>
      <dt>Available</dt><dd id="available">—</dd>
    </dl>
  </article>
</section>
<section class="card" aria-labelledby="usage-title">
  <h2 id="usage-title">Usage over time</h2>
  <p class="muted" id="usage-summary"></p>
  <div class="chart"><canvas id="usage-chart" role="img" aria-label="Credits used per day"></canvas></div>
  <p class="empty" id="usage-empty" hidden>No requests in this range.</p>
</section>
<section class="card" aria-labelledby="balance-title">
  <h2 id="balance-title">Balance history</h2>
  <p class="muted">The credit balance after each grant, each day's spending on credits and each expiry.</p>
  <div class="chart"><canvas id="balance-chart" role="img" aria-label="Credit balance over time"></canvas></div>
  <p class="empty" id="balance-empty" hidden>No credits yet. Run “Creditgate: Add Credits…” to buy some.</p>
</section>
<section class="card" aria-labelledby="grants-title">
  <h2 id="grants-title">Purchases and grants</h2>
  <table>
    <thead><tr><th scope="col">When</th><th scope="col">Source</th><th scope="col" class="n">Amount</th><th scope="col" class="n">Remaining</th><th scope="col">Expires</th><th scope="col">Payment</th></tr></thead>
    <tbody id="grants"></tbody>
  </table>
  <p class="empty" id="grants-empty" hidden>No purchases yet.</p>
</section>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}
