import { describe, expect, it } from 'vitest';
import { formatCr, formatDuration, formatLocalTime } from '../shared/format';
import { bindingWindow, percentLeft, statusBackground, statusText } from '../extension/presentation/statusBarModel';
import { runOutProjection, tooltipMarkdown } from '../extension/presentation/tooltip';
import { NOW, status, window } from './extension-fixtures';

const utc = { now: NOW, timeZone: 'UTC' };

describe('statusText', () => {
  it('shows the binding window and the balance on the plan', () => {
    expect(statusText(status({}, { '5h': { used: 19 } }))).toBe('62% left (5h) · 1,240 cr');
  });

  it('names the weekly window when it has less left than the 5h one', () => {
    const s = status({}, { '5h': { used: 10 }, weekly: { used: 200 } });
    expect(bindingWindow(s)?.name).toBe('weekly');
    expect(statusText(s)).toBe('20% left (weekly) · 1,240 cr');
  });

  it('never says 100% once something is used, nor 0% while something is left', () => {
    expect(percentLeft(window('5h', { used: 0.01 }))).toBe(99);
    expect(percentLeft(window('5h', { used: 49.9 }))).toBe(1);
    expect(percentLeft(window('5h', { used: 0 }))).toBe(100);
    expect(percentLeft(window('5h', { used: 50 }))).toBe(0);
  });

  it('says On credits with the balance, and Add credits when blocked', () => {
    expect(statusText(status({ state: 'credits', credits: { balance: 12.345, held: 0, available: 12.345 } }))).toBe('On credits · 12.35 cr');
    expect(statusText(status({ state: 'blocked' }))).toBe('Add credits');
  });

  it('ignores windows without allowance', () => {
    const s = status({ plan: 'free' }, { '5h': { limit: 0 }, weekly: { limit: 0 } });
    expect(bindingWindow(s)).toBeNull();
    expect(statusText(s)).toBe('Plan free · 1,240 cr');
  });
});

describe('statusBackground', () => {
  it('is an error when blocked and a warning from 75 % used', () => {
    expect(statusBackground(status({ state: 'blocked' }))).toBe('error');
    expect(statusBackground(status({}, { '5h': { used: 37.4 } }))).toBe('none');
    expect(statusBackground(status({}, { '5h': { used: 37.5 } }))).toBe('warning');
    expect(statusBackground(status({}, { weekly: { used: 200 } }))).toBe('warning');
  });
});

describe('format', () => {
  it('formats credits, countdowns and local times', () => {
    expect(formatCr(1240)).toBe('1,240 cr');
    expect(formatCr(0.000001)).toBe('0.000001 cr');
    expect(formatCr(-3.5)).toBe('-3.5 cr');
    expect(formatDuration(2.5 * 3_600_000)).toBe('2 h 30 min');
    expect(formatDuration(59_000)).toBe('59 s');
    expect(formatDuration(-5)).toBe('now');
    expect(formatDuration(5 * 86_400_000 + 3 * 3_600_000)).toBe('5 d 3 h');
    expect(formatLocalTime(Date.parse('2026-11-03T14:30:00Z'), NOW, { timeZone: 'UTC' })).toBe('14:30');
    expect(formatLocalTime(Date.parse('2026-11-03T14:30:00Z'), NOW, { timeZone: 'Asia/Tokyo' })).toBe('23:30');
    expect(formatLocalTime(Date.parse('2026-11-03T16:00:00Z'), NOW, { timeZone: 'Asia/Tokyo' })).toBe('Wed 01:00');
    expect(formatLocalTime(Date.parse('2026-11-08T09:00:00Z'), NOW, { timeZone: 'UTC' })).toBe('Sun 09:00');
    expect(formatLocalTime(Date.parse('2026-12-01T09:00:00Z'), NOW, { timeZone: 'UTC' })).toBe('Dec 1, 09:00');
  });
});

describe('tooltip', () => {
  it('lists both windows with used %, local reset time and countdown', () => {
    const md = tooltipMarkdown(status({}, { '5h': { used: 12.5 }, weekly: { used: 100 } }), utc);
    expect(md).toContain('| 5h | 25% (12.5 / 50 cr) | 14:30 (in 2 h 30 min) |');
    expect(md).toContain('| weekly | 40% (100 / 250 cr) | Sun 09:00 (in 4 d 21 h) |');
    expect(md).toContain('Balance: **1,240 cr** · held 0 cr · available 1,240 cr');
    expect(md).toContain('Last request: none yet');
  });

  it('shows windows that have not started and the last request', () => {
    const md = tooltipMarkdown(
      status({ lastCharge: { id: 7, ts: '2026-11-03T11:58:00Z', model: 'gpt-5-codex', client: 'codex', cost: 0.42 } }, { '5h': { resetsAt: null } }),
      utc,
    );
    expect(md).toContain('| 5h | 0% (0 / 50 cr) | not started |');
    expect(md).toContain('Last request: 0.42 cr — gpt\\-5\\-codex via codex, 11:58');
  });

  it('says why there is no allowance when the stored plan is not defined', () => {
    const md = tooltipMarkdown(status({ plan: 'constructor', planWarning: 'plan "constructor" is not defined (known plans: free, plus)' }), utc);
    expect(md).toContain('Warning: plan "constructor" is not defined \\(known plans: free, plus\\)');
    expect(tooltipMarkdown(status({}), utc)).not.toContain('Warning');
  });

  it('projects when the 5h allowance runs out at the current pace', () => {
    // 20 credits left at 10 cr/h: two hours, before the 14:30 reset.
    const s = status({ burnRatePerHour: 10 }, { '5h': { used: 30 } });
    expect(runOutProjection(s, NOW)).toEqual({ kind: 'at', at: NOW + 2 * 3_600_000 });
    expect(tooltipMarkdown(s, utc)).toContain('Burn rate: 10 cr/h over the last hour — the 5h allowance runs out at 14:00 (in 2 h 00 min) at this pace');
    // Holds count against what is left.
    expect(runOutProjection(status({ burnRatePerHour: 10 }, { '5h': { used: 30, held: 10 } }), NOW)).toEqual({ kind: 'at', at: NOW + 3_600_000 });
  });

  it('says the allowance lasts when the pace would outlive the reset, and nothing when idle', () => {
    expect(runOutProjection(status({ burnRatePerHour: 1 }, { '5h': { used: 30 } }), NOW)).toEqual({ kind: 'lasts' });
    expect(runOutProjection(status({ burnRatePerHour: 0 }, { '5h': { used: 30 } }), NOW)).toEqual({ kind: 'idle' });
    expect(runOutProjection(status({ burnRatePerHour: 5 }, { '5h': { used: 50 } }), NOW)).toEqual({ kind: 'exhausted' });
    expect(tooltipMarkdown(status({ burnRatePerHour: 1 }, { '5h': { used: 30 } }), utc)).toContain('lasts until its reset');
  });

  it('shows which process serves the gateway', () => {
    const md = tooltipMarkdown(status(), { ...utc, info: { role: 'joined', port: 8788, url: 'http://127.0.0.1:8788', dataDir: '/d', ownerPid: 42 } });
    expect(md).toContain('Gateway: http://127.0.0.1:8788 (shared with pid 42)');
  });
});
