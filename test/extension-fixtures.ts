/** Status objects for the extension's presentation tests. */
import type { Status, WindowStatus } from '../shared/protocol';

export const NOW = Date.parse('2026-11-03T12:00:00Z');

export function window(name: '5h' | 'weekly', over: Partial<WindowStatus> = {}): WindowStatus {
  const limit = over.limit ?? (name === '5h' ? 50 : 250);
  const used = over.used ?? 0;
  return {
    name,
    limit,
    used,
    remaining: Math.max(0, limit - used),
    usedPercent: limit > 0 ? Math.round((used / limit) * 10_000) / 100 : 0,
    held: 0,
    resetsAt: name === '5h' ? '2026-11-03T14:30:00.000Z' : '2026-11-08T09:00:00.000Z',
    windowMinutes: name === '5h' ? 300 : 10_080,
    ...over,
  };
}

export function status(over: Partial<Status> = {}, windows: Partial<Record<'5h' | 'weekly', Partial<WindowStatus>>> = {}): Status {
  return {
    plan: 'plus',
    state: 'plan',
    autoUseCredits: true,
    windows: [window('5h', windows['5h']), window('weekly', windows.weekly)],
    credits: { balance: 1240, held: 0, available: 1240 },
    lastCharge: null,
    burnRatePerHour: 0,
    ...over,
  };
}
