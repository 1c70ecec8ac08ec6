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

const unixSeconds = (iso: string | null): number | null => (iso === null ? null : Math.floor(Date.parse(iso) / 1000));

function windowView(status: Status, name: '5h' | 'weekly', now: number): RateLimitWindow {
  const window: WindowStatus | undefined = status.windows.find((w) => w.name === name);
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
    balance: status.credits.balance.toFixed(6).replace(/\.?0+$/, ''),
  };
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
