/**
 * The rate-limit view Codex CLI reads natively (docs/product.md §2, contract): `x-codex-*` response headers at
 * admission and one `codex.rate_limits` stream event with the settled state. With these, Codex's own
 * status view shows Creditgate's windows and balance.
 */
import type { WindowName } from '../../shared/plans';
import { WINDOW_MINUTES } from '../../shared/plans';
import type { AccountLimits } from '../ledger/ledger';
import { credits } from '../ledger/statusView';

interface RateLimitWindow {
  used_percent: number;
  window_minutes: number;
  reset_at: number | null;
}

function windowView(limits: AccountLimits, name: WindowName, now: number): RateLimitWindow {
  const window = limits.windows[name];
  const minutes = WINDOW_MINUTES[name];
  return {
    used_percent: window.usedPercent,
    window_minutes: minutes,
    // A request that opens a window reports reset-at = now + length (docs/product.md §6).
    reset_at: Math.floor((window.endsAt ?? now + minutes * 60_000) / 1000),
  };
}

function creditsView(limits: AccountLimits): { has_credits: boolean; unlimited: boolean; balance: string } {
  return {
    has_credits: limits.available > 0,
    unlimited: false,
    balance: balanceText(limits.balance),
  };
}

// The balance changes only when credits are spent or added; most requests repeat the last one.
let lastBalance = Number.NaN;
let lastBalanceText = '';

/** Micro-credits as Codex shows a balance: credits with up to 6 decimals, no trailing zeros. */
function balanceText(balance: number): string {
  if (balance !== lastBalance) {
    lastBalanceText = credits(balance).toFixed(6).replace(/\.?0+$/, '');
    lastBalance = balance;
  }
  return lastBalanceText;
}

/** Header pairs describing the account at admission; they replace any upstream `x-codex-*` headers. */
export function rateLimitHeaders(limits: AccountLimits, now: number): Record<string, string> {
  const primary = windowView(limits, '5h', now);
  const secondary = windowView(limits, 'weekly', now);
  const credit = creditsView(limits);
  return {
    'x-codex-primary-used-percent': String(primary.used_percent),
    'x-codex-primary-window-minutes': String(primary.window_minutes),
    'x-codex-primary-reset-at': String(primary.reset_at),
    'x-codex-secondary-used-percent': String(secondary.used_percent),
    'x-codex-secondary-window-minutes': String(secondary.window_minutes),
    'x-codex-secondary-reset-at': String(secondary.reset_at),
    'x-codex-credits-has-credits': String(credit.has_credits),
    'x-codex-credits-unlimited': String(credit.unlimited),
    'x-codex-credits-balance': credit.balance,
  };
}

/** The `codex.rate_limits` SSE event carrying the settled state, injected before the terminal event. */
export function rateLimitsEvent(limits: AccountLimits, now: number): Buffer {
  const event = {
    type: 'codex.rate_limits',
    plan_type: limits.plan,
    rate_limits: { primary: windowView(limits, '5h', now), secondary: windowView(limits, 'weekly', now) },
    credits: creditsView(limits),
  };
  return Buffer.from(`event: codex.rate_limits\ndata: ${JSON.stringify(event)}\n\n`);
}
