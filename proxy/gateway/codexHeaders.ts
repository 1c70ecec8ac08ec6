/**
 * The rate-limit view Codex CLI reads natively (SPEC §2, contract): `x-codex-*` response headers at
 * admission and one `codex.rate_limits` stream event with the settled state. With these, Codex's own
 * status view shows Creditgate's windows and balance.
 */
import type { Status, WindowStatus } from '../../shared/protocol';
import { WINDOW_MINUTES } from '../../shared/plans';

interface RateLimitWindow {
  used_percent: number;
  window_minutes: number;
  reset_at: number | null;
}

// Headers go out on every admission, and the windows' reset instants rarely change: parse each once.
const secondsCache = new Map<string, number>();

function unixSeconds(iso: string | null): number | null {
  if (iso === null) return null;
  let seconds = secondsCache.get(iso);
  if (seconds === undefined) {
    if (secondsCache.size >= 64) secondsCache.clear();
    seconds = Math.floor(Date.parse(iso) / 1000);
    secondsCache.set(iso, seconds);
  }
  return seconds;
}

function findWindow(status: Status, name: '5h' | 'weekly'): WindowStatus | undefined {
  for (const window of status.windows) if (window.name === name) return window;
  return undefined;
}

function windowView(status: Status, name: '5h' | 'weekly', now: number): RateLimitWindow {
  const window = findWindow(status, name);
  const minutes = WINDOW_MINUTES[name];
  return {
    used_percent: window ? round2(window.usedPercent) : 0,
    window_minutes: minutes,
    // A request that opens a window reports reset-at = now + length (SPEC §6).
    reset_at: unixSeconds(window?.resetsAt ?? null) ?? Math.floor(now / 1000) + minutes * 60,
  };
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

function creditsView(status: Status): { has_credits: boolean; unlimited: boolean; balance: string } {
  return {
    has_credits: status.credits.available > 0,
    unlimited: false,
    balance: balanceText(status.credits.balance),
  };
}

// The balance changes only when credits are spent or added; most requests repeat the last one.
let lastBalance = Number.NaN;
let lastBalanceText = '';

function balanceText(balance: number): string {
  if (balance !== lastBalance) {
    lastBalanceText = balance.toFixed(6).replace(/\.?0+$/, '');
    lastBalance = balance;
  }
  return lastBalanceText;
}

/** Header pairs describing the account at admission; they replace any upstream `x-codex-*` headers. */
export function rateLimitHeaders(status: Status, now: number): Record<string, string> {
  const primary = windowView(status, '5h', now);
  const secondary = windowView(status, 'weekly', now);
  const credits = creditsView(status);
  return {
    'x-codex-primary-used-percent': String(primary.used_percent),
    'x-codex-primary-window-minutes': String(primary.window_minutes),
    'x-codex-primary-reset-at': String(primary.reset_at),
    'x-codex-secondary-used-percent': String(secondary.used_percent),
    'x-codex-secondary-window-minutes': String(secondary.window_minutes),
    'x-codex-secondary-reset-at': String(secondary.reset_at),
    'x-codex-credits-has-credits': String(credits.has_credits),
    'x-codex-credits-unlimited': String(credits.unlimited),
    'x-codex-credits-balance': credits.balance,
    'x-creditgate-state': status.state,
  };
}

/** The `codex.rate_limits` SSE event carrying the settled state, injected before the terminal event. */
export function rateLimitsEvent(status: Status, now: number): Buffer {
  const event = {
    type: 'codex.rate_limits',
    plan_type: status.plan,
    rate_limits: { primary: windowView(status, '5h', now), secondary: windowView(status, 'weekly', now) },
    credits: creditsView(status),
  };
  return Buffer.from(`event: codex.rate_limits\ndata: ${JSON.stringify(event)}\n\n`);
}
