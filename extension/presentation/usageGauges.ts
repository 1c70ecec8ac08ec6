/**
 * The Usage panel's gauges and credit figures, from a status: per window the used share of the
 * allowance, the text beside it, the reset time with its countdown, and a level for the colour (the
 * status bar's warning threshold). Pure: `now` and the time zone are arguments.
 */
import type { Status, WindowStatus } from '../../shared/protocol';
import type { TimeFormatOptions } from '../../shared/format';
import { formatCr, formatCredits, formatDuration, formatLocalTime, formatPercent } from '../../shared/format';

export type GaugeLevel = 'ok' | 'warning' | 'exhausted' | 'none';

export interface Gauge {
  name: WindowStatus['name'];
  title: string;
  /** 0–100, for the arc (an overrun fills it). */
  fill: number;
  /** "25%", or "—" without an allowance. */
  percentText: string;
  /** "12.5 of 50 cr used", "No allowance on this plan". */
  usedText: string;
  /** "2 cr held by requests in flight", or null. */
  heldText: string | null;
  /** "Resets 14:30 (in 2 h 05 min)", "Opens with the next request". */
  resetText: string;
  level: GaugeLevel;
}

export interface CreditFigures {
  /** "Credits", or "Team pool credits" on a team gateway. */
  title: string;
  balance: string;
  held: string;
  available: string;
  /** The balance is below zero (debt the next grant repays). */
  negative: boolean;
}

const TITLES: Record<WindowStatus['name'], string> = { '5h': '5-hour window', weekly: 'Weekly window' };

/** The status bar turns to a warning at 75 % used (docs/product.md §5); the gauge follows it. */
export const WARNING_PERCENT = 75;

export function gauge(window: WindowStatus, now: number, options: TimeFormatOptions = {}): Gauge {
  const title = TITLES[window.name] ?? window.name;
  if (window.limit <= 0) {
    return { name: window.name, title, fill: 0, percentText: '—', usedText: 'No allowance on this plan', heldText: null, resetText: '', level: 'none' };
  }
  const level: GaugeLevel = window.remaining <= 0 ? 'exhausted' : window.usedPercent >= WARNING_PERCENT ? 'warning' : 'ok';
  let resetText = 'Opens with the next request';
  if (window.resetsAt !== null) {
    const at = Date.parse(window.resetsAt);
    resetText = at <= now ? 'Resets with the next request' : `Resets ${formatLocalTime(at, now, options)} (in ${formatDuration(at - now)})`;
  }
  return {
    name: window.name,
    title,
    fill: Math.min(100, Math.max(0, window.usedPercent)),
    percentText: formatPercent(window.usedPercent),
    usedText: `${formatCredits(window.used)} of ${formatCr(window.limit)} used`,
    heldText: window.held > 0 ? `${formatCr(window.held)} held by requests in flight` : null,
    resetText,
    level,
  };
}

export function gauges(status: Status, now: number, options: TimeFormatOptions = {}): Gauge[] {
  return status.windows.map((window) => gauge(window, now, options));
}

export function creditFigures(status: Status): CreditFigures {
  const { balance, held, available } = status.credits;
  const title = status.seat === undefined ? 'Credits' : 'Team pool credits';
  return { title, balance: formatCr(balance), held: formatCr(held), available: formatCr(available), negative: balance < 0 };
}

const STATE_TEXT: Record<Status['state'], string> = {
  plan: 'On plan allowance',
  credits: 'On credits',
  blocked: 'Blocked — add credits or wait for a reset',
};

/**
 * "Plan plus · On plan allowance · auto-use of credits on"; on a team gateway "Seat alice (member) ·
 * plan plus · On plan allowance · credits from the team pool".
 */
export function statusLine(status: Status): string {
  const state = status.state === 'blocked' && status.role === 'member' ? 'Blocked — ask a team admin for credits or wait for a reset' : STATE_TEXT[status.state];
  if (status.seat !== undefined) {
    return `Seat ${status.seat} (${status.role ?? 'member'}) · plan ${status.plan} · ${state} · credits from the team pool`;
  }
  return `Plan ${status.plan} · ${state} · auto-use of credits ${status.autoUseCredits ? 'on' : 'off'}`;
}
