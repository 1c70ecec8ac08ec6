import type { RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GrantRow, Status, UsageGroup, UsageQuery, WindowStatus } from '../shared/protocol';
import type { BalanceHistoryParams, BalancePoint, UsageResult } from '../shared/rpc';
import { BalanceHistoryRequest, ListCreditsRequest, UsageRequest } from '../shared/rpc';
import { OTHER_SERIES, dayBuckets, usageChart } from '../extension/presentation/usageChart';
import { creditFigures, gauge } from '../extension/presentation/usageGauges';
import { UsagePanelData } from '../extension/presentation/usagePanelData';
import { usagePanelHtml } from '../extension/presentation/usagePanelHtml';
import { Throttle } from '../extension/presentation/usageThrottle';
import { DEFAULT_VIEW, parseFromWebview, restoredView } from '../extension/webview/messages';

// Day buckets are local calendar days: pin the zone (Berlin has a 23-hour day on 2026-03-29).
const savedTz = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'Europe/Berlin';
});
afterAll(() => {
  process.env.TZ = savedTz;
});

const HOUR = 3_600_000;
const group = (key: string, cost: number, requests = 1): UsageGroup => ({ key, cost, requests, inputTokens: 0, outputTokens: 0 });

describe('dayBuckets', () => {
  it('covers the last N local days, today included, back to back from local midnight', () => {
    const now = Date.parse('2026-11-03T10:00:00+01:00');
    const days = dayBuckets(3, now);
    expect(days.map((d) => [d.key, d.label])).toEqual([
      ['2026-11-01', 'Nov 1'],
      ['2026-11-02', 'Nov 2'],
      ['2026-11-03', 'Nov 3'],
    ]);
    expect(days[0]!.start).toBe(Date.parse('2026-11-01T00:00:00+01:00'));
    expect(days[1]!.start).toBe(days[0]!.end);
    expect(days[2]!.end).toBe(Date.parse('2026-11-04T00:00:00+01:00'));
  });

  it('gives a daylight-saving day its 23 hours', () => {
    const days = dayBuckets(2, Date.parse('2026-03-30T12:00:00+02:00'));
    expect(days[0]!.key).toBe('2026-03-29');
    expect(days[0]!.end - days[0]!.start).toBe(23 * HOUR);
  });
});

describe('usageChart', () => {
  const days = dayBuckets(3, Date.parse('2026-11-03T10:00:00+01:00'));

  it('makes one zero-filled series per key across the days, largest first, with exact totals', () => {
    const chart = usageChart(days, [[group('gpt-5', 0.1), group('claude', 0.2, 2)], [], [group('gpt-5', 0.2, 3)]]);
    expect(chart.series.map((s) => [s.key, s.credits, s.requests, s.totalCredits])).toEqual([
      ['gpt-5', [0.1, 0, 0.2], [1, 0, 3], 0.3],
      ['claude', [0.2, 0, 0], [2, 0, 0], 0.2],
    ]);
    expect(chart.totalCredits).toBe(0.5);
    expect(chart.totalRequests).toBe(6);
  });

  it('merges the smallest keys into Other beyond the series limit', () => {
    const groups = ['a', 'b', 'c', 'd'].map((key, i) => group(key, 10 - i));
    const chart = usageChart(days, [groups, [group('d', 0.5)], []], 3);
    expect(chart.series.map((s) => s.key)).toEqual(['a', 'b', OTHER_SERIES]);
    const other = chart.series[2]!;
    expect(other.credits).toEqual([8 + 7, 0.5, 0]);
    expect(other.requests).toEqual([2, 1, 0]);
    expect(other.totalCredits).toBe(15.5);
  });

  it('keeps every key when they fit', () => {
    expect(usageChart(days, [[group('a', 1), group('b', 2)]], 2).series.map((s) => s.key)).toEqual(['b', 'a']);
  });
});

describe('gauge', () => {
  const now = Date.parse('2026-11-03T12:00:00Z');
  const window = (w: Partial<WindowStatus>): WindowStatus => ({
    name: '5h',
    limit: 50,
    used: 12.5,
    remaining: 37.5,
    usedPercent: 25,
    held: 0,
    resetsAt: '2026-11-03T14:05:00Z',
    windowMinutes: 300,
    ...w,
  });

  it('shows the used share, the figures and the reset as a local time with a countdown', () => {
    expect(gauge(window({}), now, { timeZone: 'UTC' })).toEqual({
      name: '5h',
      title: '5-hour window',
      fill: 25,
      percentText: '25%',
      usedText: '12.5 of 50 cr used',
      heldText: null,
      resetText: 'Resets 14:05 (in 2 h 05 min)',
      level: 'ok',
    });
  });

  it('warns from 75 % used, and reads exhausted (arc full) once the allowance is gone, even overrun', () => {
    expect(gauge(window({ usedPercent: 75, used: 37.5, remaining: 12.5 }), now).level).toBe('warning');
    const over = gauge(window({ usedPercent: 120, used: 60, remaining: 0, held: 2 }), now);
    expect([over.level, over.fill, over.percentText, over.heldText]).toEqual(['exhausted', 100, '120%', '2 cr held by requests in flight']);
  });

  it('says when a window is not open, and when the plan has no allowance', () => {
    expect(gauge(window({ resetsAt: null, used: 0, usedPercent: 0, remaining: 50 }), now).resetText).toBe('Opens with the next request');
    expect(gauge(window({ limit: 0, remaining: 0 }), now)).toMatchObject({ level: 'none', percentText: '—', usedText: 'No allowance on this plan' });
  });

  it('formats the credits and flags a negative balance', () => {
    const status = { credits: { balance: -0.5, held: 1240, available: -1240.5 } } as Status;
    expect(creditFigures(status)).toEqual({ title: 'Credits', balance: '-0.5 cr', held: '1,240 cr', available: '-1,240.5 cr', negative: true });
  });
});

describe('webview messages', () => {
  it('accepts the known messages and refuses malformed ones', () => {
    expect(parseFromWebview({ type: 'ready' })).toEqual({ type: 'ready' });
    expect(parseFromWebview({ type: 'setView', view: { rangeDays: 7, split: 'client', extra: 1 } })).toEqual({ type: 'setView', view: { rangeDays: 7, split: 'client' } });
    expect(parseFromWebview({ type: 'setView', view: { rangeDays: 14, split: 'client' } })).toBeNull();
    expect(parseFromWebview({ type: 'setView', view: { rangeDays: 7, split: 'day' } })).toBeNull();
    expect(parseFromWebview({ type: 'deleteEverything' })).toBeNull();
    expect(parseFromWebview('ready')).toBeNull();
  });

  it('restores the view a reloaded panel saved, and the default from a missing or tampered state', () => {
    expect(restoredView({ view: { rangeDays: 7, split: 'client' } })).toEqual({ rangeDays: 7, split: 'client' });
    expect(restoredView({ view: { rangeDays: 90, split: 'feature', extra: true } })).toEqual({ rangeDays: 90, split: 'feature' });
    for (const state of [undefined, null, 'x', {}, { view: null }, { view: { rangeDays: 8, split: 'model' } }, { view: { rangeDays: 7, split: 'hour' } }]) {
      expect(restoredView(state)).toEqual(DEFAULT_VIEW);
    }
  });
});

describe('Throttle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs at once when idle, then folds the calls of an interval into one run at its end', () => {
    vi.useFakeTimers();
    const task = vi.fn();
    const throttle = new Throttle(task, 2_000);
    throttle.schedule();
    expect(task).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    throttle.schedule();
    throttle.schedule();
    expect(task).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1_499);
    expect(task).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(task).toHaveBeenCalledTimes(2);
    throttle.schedule();
    throttle.cancel();
    vi.advanceTimersByTime(10_000);
    expect(task).toHaveBeenCalledTimes(2);
  });
});

describe('UsagePanelData', () => {
  const now = Date.parse('2026-11-03T10:00:00+01:00');
  const grants: GrantRow[] = [
    { id: 1, ts: '2026-10-01T00:00:00Z', source: 'purchase', amount: 100, remaining: 0, expiresAt: null, idempotencyKey: 'a' },
    { id: 2, ts: '2026-11-01T00:00:00Z', source: 'promo', amount: 10, remaining: 10, expiresAt: null, idempotencyKey: 'b' },
  ];
  const history: BalancePoint[] = [
    { ts: '2026-10-05T00:00:00Z', balance: 90, change: 0, event: 'start' },
    { ts: '2026-11-03T08:00:00Z', balance: 90, change: 0, event: 'now' },
  ];

  function fakeGateway() {
    const usage: UsageQuery[] = [];
    const balance: BalanceHistoryParams[] = [];
    const gateway = {
      request: <R>(type: RequestType0<R, void>): Promise<R> => {
        expect(type.method).toBe(ListCreditsRequest.method);
        return Promise.resolve(grants as R);
      },
      requestWith: <P, R>(type: RequestType<P, R, void>, params: P): Promise<R> => {
        if (type.method === UsageRequest.method) {
          const query = params as UsageQuery;
          usage.push(query);
          const result: UsageResult = { kind: 'groups', groups: query.since === '2026-11-02T23:00:00.000Z' ? [group('gpt-5', 1.5)] : [] };
          return Promise.resolve(result as R);
        }
        expect(type.method).toBe(BalanceHistoryRequest.method);
        balance.push(params as BalanceHistoryParams);
        return Promise.resolve(history as R);
      },
    };
    return { gateway, usage, balance };
  }
  const status = (balance: number) => ({ credits: { balance, held: 0, available: balance } }) as Status;

  it('asks for each local day of the range split by the chosen key, and lists the newest grant first', async () => {
    const { gateway, usage, balance } = fakeGateway();
    const data = await new UsagePanelData(gateway, 'Europe/Berlin').load({ rangeDays: 7, split: 'client' }, status(90), now);
    expect(usage).toHaveLength(7);
    expect(usage.every((q) => q.groupBy === 'client')).toBe(true);
    expect(usage[0]).toEqual({ since: '2026-10-27T23:00:00.000Z', until: '2026-10-28T23:00:00.000Z', groupBy: 'client' });
    expect(data.usage.series).toEqual([{ key: 'gpt-5', credits: [0, 0, 0, 0, 0, 0, 1.5], requests: [0, 0, 0, 0, 0, 0, 1], totalCredits: 1.5 }]);
    expect(balance).toEqual([{ since: '2026-10-27T23:00:00.000Z', timeZone: 'Europe/Berlin' }]);
    expect(data.grants.map((g) => g.id)).toEqual([2, 1]);
  });

  it('reuses the balance history while the balance stays, moving its last point to now', async () => {
    const { gateway, balance } = fakeGateway();
    const loader = new UsagePanelData(gateway, 'UTC');
    const view = { rangeDays: 30, split: 'model' } as const;
    await loader.load(view, status(90), now);
    const again = await loader.load(view, status(90), now + 60_000);
    expect(balance).toHaveLength(1);
    expect(again.balance.at(-1)).toEqual({ ...history[1], ts: new Date(now + 60_000).toISOString() });
    await loader.load(view, status(89), now + 120_000);
    expect(balance).toHaveLength(2);
    await loader.load({ ...view, rangeDays: 90 }, status(89), now + 120_000);
    expect(balance).toHaveLength(3);
  });
});

describe('usagePanelHtml', () => {
  const html = usagePanelHtml({ cspSource: 'https://webview.test', scriptUri: 'https://webview.test/dist/webview/usagePanel.js', nonce: 'abc123' });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';

  it('allows only its own nonce’d script and style, nothing remote or inline-unsafe', () => {
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'nonce-abc123'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)|https?:\/\/(?!webview\.test)/);
    expect(html).toContain('<script nonce="abc123" src="https://webview.test/dist/webview/usagePanel.js"></script>');
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it('offers the three ranges, the three splits and the export', () => {
    expect([...html.matchAll(/data-range="(\d+)"/g)].map((m) => m[1])).toEqual(['7', '30', '90']);
    expect([...html.matchAll(/data-split="(\w+)"/g)].map((m) => m[1])).toEqual(['model', 'client', 'feature']);
    expect(html).toContain('id="export"');
  });
});
