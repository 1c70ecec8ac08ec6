/**
 * The x-codex-* headers and the codex.rate_limits event (docs/product.md §2, contract) as built from an
 * admission's AccountLimits: percentages, reset instants (an unopened window resets at now + its
 * length), and the balance as Codex prints it.
 */
import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, rateLimitsEvent } from '../proxy/gateway/codexHeaders';
import type { AccountLimits } from '../proxy/ledger/ledger';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0, 750);

const limits: AccountLimits = {
  plan: 'pro',
  windows: {
    '5h': { usedPercent: 37.55, endsAt: NOW + 2 * 3_600_000 + 999 },
    weekly: { usedPercent: 0, endsAt: null },
  },
  balance: 12_340_000, // 12.34 credits
  available: 11_000_000,
};

describe('codex rate-limit view', () => {
  it('builds the admission headers from the limits', () => {
    const nowSeconds = Math.floor(NOW / 1000);
    expect(rateLimitHeaders(limits, NOW)).toEqual({
      'x-codex-primary-used-percent': '37.55',
      'x-codex-primary-window-minutes': '300',
      'x-codex-primary-reset-at': String(nowSeconds + 2 * 3600 + 1),
      'x-codex-secondary-used-percent': '0',
      'x-codex-secondary-window-minutes': '10080',
      // Not opened yet: this request opens it, so it resets one week from now.
      'x-codex-secondary-reset-at': String(nowSeconds + 10_080 * 60),
      'x-codex-credits-has-credits': 'true',
      'x-codex-credits-unlimited': 'false',
      'x-codex-credits-balance': '12.34',
    });
  });

  it('says there are no credits when everything is held or spent, and keeps 6 decimals of a balance', () => {
    const headers = rateLimitHeaders({ ...limits, balance: 1, available: 0 }, NOW);
    expect(headers['x-codex-credits-has-credits']).toBe('false');
    expect(headers['x-codex-credits-balance']).toBe('0.000001');
    expect(rateLimitHeaders({ ...limits, balance: -2_500_000, available: -2_500_000 }, NOW)['x-codex-credits-balance']).toBe('-2.5');
  });

  it('carries the same figures and the plan in the codex.rate_limits event', () => {
    const text = rateLimitsEvent(limits, NOW).toString();
    expect(text.startsWith('event: codex.rate_limits\ndata: ')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(true);
    const event = JSON.parse(text.slice(text.indexOf('data: ') + 6));
    expect(event).toEqual({
      type: 'codex.rate_limits',
      plan_type: 'pro',
      rate_limits: {
        primary: { used_percent: 37.55, window_minutes: 300, reset_at: Math.floor(NOW / 1000) + 7201 },
        secondary: { used_percent: 0, window_minutes: 10_080, reset_at: Math.floor(NOW / 1000) + 604_800 },
      },
      credits: { has_credits: true, unlimited: false, balance: '12.34' },
    });
  });
});
