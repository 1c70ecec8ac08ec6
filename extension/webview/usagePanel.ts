/// <reference lib="dom" />
/**
 * The Usage panel's script (bundled for the browser into dist/webview/usagePanel.js): renders what
 * the extension sends (messages.ts) with Chart.js in the theme's colours, and asks for another range,
 * another split or a CSV export. The figures come from the pure presentation modules.
 */
import type { ChartConfiguration, TooltipItem } from 'chart.js';
import { ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { GrantRow, Status } from '../../shared/protocol';
import type { BalancePoint } from '../../shared/rpc';
import { formatCr, formatCredits } from '../../shared/format';
import type { Gauge } from '../presentation/usageGauges';
import { creditFigures, gauges, statusLine } from '../presentation/usageGauges';
import { OTHER_SERIES } from '../presentation/usageChart';
import { paymentSummary } from '../presentation/purchase';
import type { FromWebview, PanelData, PanelView, SavedPanelState, ToWebview } from './messages';
import { DEFAULT_VIEW, isRangeDays, isSplitKey } from './messages';
import { levelColour, readTheme } from './theme';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; setState(state: SavedPanelState): void };

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const vscode = acquireVsCodeApi();
const post = (message: FromWebview): void => vscode.postMessage(message);

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
let theme = readTheme();
let status: Status | null = null;
let data: PanelData | null = null;
let view: PanelView = DEFAULT_VIEW;
const gaugeCharts = new Map<string, Chart<'doughnut'>>();
let usageChart: Chart<'bar'> | null = null;
let balanceChart: Chart<'line', { x: number; y: number }[]> | null = null;

function applyChartDefaults(): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = theme.fontSize;
  Chart.defaults.animation = reducedMotion.matches ? false : { duration: 250 };
}

// ---- gauges and credits ---------------------------------------------------------------------------

function gaugeCard(g: Gauge): HTMLElement {
  const card = document.createElement('article');
  card.className = 'card gauge';
  card.id = `gauge-${g.name}`;
  card.setAttribute('aria-label', g.title);
  const title = document.createElement('h2');
  const arc = document.createElement('div');
  arc.className = 'gauge-arc';
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  const value = document.createElement('div');
  value.className = 'gauge-value';
  arc.append(canvas, value);
  const used = document.createElement('p');
  used.className = 'used';
  const reset = document.createElement('p');
  reset.className = 'muted reset';
  const held = document.createElement('p');
  held.className = 'muted held';
  card.append(title, arc, used, reset, held);
  const config: ChartConfiguration<'doughnut'> = {
    type: 'doughnut',
    data: { datasets: [{ data: [0, 100], borderWidth: 0 }] },
    options: {
      rotation: -90,
      circumference: 180,
      cutout: '78%',
      maintainAspectRatio: false,
      events: [],
      plugins: { legend: { display: false }, tooltip: { enabled: false } },
    },
  };
  gaugeCharts.set(g.name, new Chart(canvas, config));
  return card;
}

function renderGauge(g: Gauge): void {
  const container = element('gauges');
  const card = document.getElementById(`gauge-${g.name}`) ?? container.appendChild(gaugeCard(g));
  card.dataset.level = g.level;
  card.querySelector('h2')!.textContent = g.title;
  card.querySelector('.gauge-value')!.textContent = g.percentText;
  card.querySelector('.used')!.textContent = g.usedText;
  card.querySelector('.reset')!.textContent = g.resetText;
  const held = card.querySelector<HTMLElement>('.held')!;
  held.textContent = g.heldText ?? '';
  held.hidden = g.heldText === null;
  card.querySelector('canvas')!.setAttribute('aria-label', `${g.title}: ${g.percentText} used. ${g.usedText}. ${g.resetText}`);
  const chart = gaugeCharts.get(g.name)!;
  const dataset = chart.data.datasets[0]!;
  dataset.data = [g.fill, 100 - g.fill];
  dataset.backgroundColor = [levelColour(theme, g.level), theme.track];
  chart.update(reducedMotion.matches ? 'none' : undefined);
}

function renderStatus(): void {
  const line = element('status-line');
  if (!status) {
    line.textContent = 'The gateway is not running. Run “Creditgate: Restart Gateway”.';
    return;
  }
  line.textContent = statusLine(status);
  const shown = gauges(status, Date.now());
  for (const g of shown) renderGauge(g);
  // A plan change can drop a window; remove its card.
  for (const name of [...gaugeCharts.keys()]) {
    if (shown.some((g) => g.name === name)) continue;
    gaugeCharts.get(name)!.destroy();
    gaugeCharts.delete(name);
    document.getElementById(`gauge-${name}`)?.remove();
  }
  const credits = creditFigures(status);
  element('credits-title').textContent = credits.title;
  const balance = element('balance');
  balance.textContent = credits.balance;
  balance.classList.toggle('negative', credits.negative);
  element('held').textContent = credits.held;
  element('available').textContent = credits.available;
}

// ---- usage over time ------------------------------------------------------------------------------

function renderUsage(d: PanelData): void {
  const { usage } = d;
  const empty = usage.totalRequests === 0;
  element('usage-empty').hidden = !empty;
  element('usage-chart').parentElement!.hidden = empty;
  const byWhat = d.view.split;
  element('usage-summary').textContent = empty
    ? `Last ${d.view.rangeDays} days.`
    : `Last ${d.view.rangeDays} days: ${formatCr(usage.totalCredits)} over ${usage.totalRequests.toLocaleString()} requests, by ${byWhat}.`;
  const datasets = usage.series.map((series, i) => ({
    label: series.key,
    data: series.credits,
    requests: series.requests,
    backgroundColor: series.key === OTHER_SERIES ? theme.muted : theme.palette[i % theme.palette.length],
    borderWidth: 0,
    stack: 'usage',
  }));
  const labels = usage.days.map((day) => day.label);
  if (usageChart) {
    usageChart.data.labels = labels;
    usageChart.data.datasets = datasets;
    usageChart.update();
    return;
  }
  usageChart = new Chart(element<HTMLCanvasElement>('usage-chart'), {
    type: 'bar',
    data: { labels, datasets },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: 'credits' }, ticks: { callback: (value) => formatCredits(Number(value)) } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: {
          filter: (item: TooltipItem<'bar'>) => Number(item.raw) > 0,
          callbacks: {
            label: (item: TooltipItem<'bar'>) => {
              const requests = (item.dataset as { requests?: number[] }).requests?.[item.dataIndex] ?? 0;
              return `${item.dataset.label ?? ''}: ${formatCr(Number(item.raw))} · ${requests.toLocaleString()} requests`;
            },
            footer: (items: TooltipItem<'bar'>[]) => `Total: ${formatCr(items.reduce((sum, item) => sum + Number(item.raw), 0))}`,
          },
        },
      },
    },
  });
}

// ---- balance history ------------------------------------------------------------------------------

const EVENT_LABEL: Record<BalancePoint['event'], string> = {
  start: 'Start of range',
  purchase: 'Purchase',
  promo: 'Promotion',
  refund: 'Refund',
  admin: 'Admin grant',
  purchase_refunded: 'Purchase refunded: credits taken back',
  spending: 'Spent on credits',
  expiry: 'Expired',
  now: 'Now',
};

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const shortDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

function renderBalance(d: PanelData): void {
  const points = d.balance;
  element('balance-empty').hidden = points.length > 0;
  element('balance-chart').parentElement!.hidden = points.length === 0;
  if (points.length === 0) return;
  const series = points.map((p) => ({ x: Date.parse(p.ts), y: p.balance }));
  const radius = points.map((p) => (p.event === 'start' || p.event === 'now' ? 0 : 3));
  // The axis spans the history exactly (the range's start to now), not a rounded-out span.
  const span = { min: series[0]!.x, max: series.at(-1)!.x };
  if (balanceChart) {
    const dataset = balanceChart.data.datasets[0]!;
    dataset.data = series;
    dataset.pointRadius = radius;
    Object.assign(balanceChart.options.scales!.x!, span);
    balanceChart.update();
    return;
  }
  balanceChart = new Chart<'line', { x: number; y: number }[]>(element<HTMLCanvasElement>('balance-chart'), {
    type: 'line',
    data: { datasets: [{ label: 'Balance', data: series, stepped: 'after', borderColor: theme.balance, backgroundColor: theme.balance, pointRadius: radius, borderWidth: 2 }] },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      scales: {
        x: { type: 'linear', ...span, ticks: { maxTicksLimit: 8, callback: (value) => shortDate.format(Number(value)) }, grid: { display: false } },
        y: { title: { display: true, text: 'credits' }, ticks: { callback: (value) => formatCredits(Number(value)) } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => (items[0] ? dateTime.format(Number(items[0].parsed.x)) : ''),
            label: (item) => {
              const point = data?.balance[item.dataIndex];
              if (!point) return '';
              const change = point.change === 0 ? '' : ` ${point.change > 0 ? '+' : '−'}${formatCr(Math.abs(point.change))}`;
              return [`${EVENT_LABEL[point.event]}${change}`, `Balance: ${formatCr(point.balance)}`];
            },
          },
        },
      },
    },
  });
}

// ---- grants ---------------------------------------------------------------------------------------

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** A Stripe purchase's price, session and receipt link (a team gateway's grants); empty for the others. */
function paymentCell(grant: GrantRow): HTMLTableCellElement {
  const summary = paymentSummary(grant);
  const td = cell(summary?.text ?? '');
  if (summary?.receiptUrl) {
    const link = document.createElement('a');
    link.href = summary.receiptUrl;
    link.textContent = 'Receipt';
    td.append(' · ', link);
  }
  return td;
}

function renderGrants(grants: GrantRow[]): void {
  const now = Date.now();
  const rows = grants.map((grant) => {
    const tr = document.createElement('tr');
    const expiresAt = grant.expiresAt === null ? null : Date.parse(grant.expiresAt);
    const expired = expiresAt !== null && expiresAt <= now;
    tr.append(
      cell(dateTime.format(Date.parse(grant.ts))),
      cell(EVENT_LABEL[grant.source]),
      cell(formatCr(grant.amount), 'n'),
      cell(formatCr(grant.remaining), expired ? 'n expired' : 'n'),
      cell(expiresAt === null ? 'Never' : `${expired ? 'Expired ' : ''}${dateTime.format(expiresAt)}`),
      paymentCell(grant),
    );
    return tr;
  });
  element('grants').replaceChildren(...rows);
  element('grants-empty').hidden = grants.length > 0;
}

// ---- controls -------------------------------------------------------------------------------------

function renderControls(): void {
  // Kept by VS Code with the panel: after a window reload the extension restores this view.
  vscode.setState({ view });
  document.querySelectorAll<HTMLButtonElement>('[data-range]').forEach((button) => {
    button.setAttribute('aria-pressed', String(Number(button.dataset.range) === view.rangeDays));
  });
  document.querySelectorAll<HTMLButtonElement>('[data-split]').forEach((button) => {
    button.setAttribute('aria-pressed', String(button.dataset.split === view.split));
  });
}

function setView(next: PanelView): void {
  if (next.rangeDays === view.rangeDays && next.split === view.split) return;
  view = next;
  renderControls();
  post({ type: 'setView', view });
}

document.addEventListener('click', (event) => {
  const button = (event.target as HTMLElement).closest('button');
  if (!button) return;
  const range = Number(button.dataset.range);
  if (isRangeDays(range)) setView({ ...view, rangeDays: range });
  if (isSplitKey(button.dataset.split)) setView({ ...view, split: button.dataset.split });
  if (button.id === 'export') {
    button.disabled = true;
    post({ type: 'exportCsv' });
  }
});

function renderData(): void {
  if (!data) return;
  view = data.view;
  renderControls();
  renderUsage(data);
  renderBalance(data);
  renderGrants(data.grants);
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'status':
      status = message.status;
      renderStatus();
      break;
    case 'data':
      data = message.data;
      element('error').hidden = true;
      renderData();
      break;
    case 'error':
      element('error').textContent = message.message;
      element('error').hidden = false;
      break;
    case 'exportFinished':
      element<HTMLButtonElement>('export').disabled = false;
      break;
  }
});

// Theme switches change the CSS variables (and the body's class): recolour everything.
new MutationObserver(() => {
  theme = readTheme();
  applyChartDefaults();
  for (const chart of [usageChart, balanceChart]) chart?.destroy();
  usageChart = null;
  balanceChart = null;
  renderStatus();
  renderData();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

// Countdowns move on without a push.
setInterval(renderStatus, 30_000);

applyChartDefaults();
renderControls();
post({ type: 'ready' });
