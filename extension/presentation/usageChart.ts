/**
 * Usage over time for the Usage panel's stacked bars: the local calendar days of a range, and the
 * per-day groups (one usage query per day, grouped by model, client or feature) turned into one series
 * per key. Pure: the clock and the time zone are arguments.
 */
import type { UsageGroup } from '../../shared/protocol';

export interface DayBucket {
  /** Local calendar day, "2026-11-03". */
  key: string;
  /** Short label for the axis, "Nov 3". */
  label: string;
  /** [start, end) in ms: local midnight to the next local midnight (23 or 25 hours across DST). */
  start: number;
  end: number;
}

export interface UsageSeries {
  key: string;
  /** Credits per day, aligned with UsageChart.days. */
  credits: number[];
  requests: number[];
  totalCredits: number;
}

export interface UsageChart {
  days: DayBucket[];
  /** Largest first; the smallest keys beyond the limit are merged into one series named OTHER_SERIES. */
  series: UsageSeries[];
  totalCredits: number;
  totalRequests: number;
}

export const OTHER_SERIES = 'Other';

/** Midnight of the day `offset` days from the day containing `at`, in the machine's local zone. */
function localMidnight(at: number, offset: number): number {
  const date = new Date(at);
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + offset).getTime();
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The last `count` local calendar days, today included, oldest first. */
export function dayBuckets(count: number, now: number, locale = 'en-US'): DayBucket[] {
  const label = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric' });
  return Array.from({ length: count }, (_, i) => {
    const start = localMidnight(now, i - count + 1);
    const date = new Date(start);
    return {
      key: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
      label: label.format(start),
      start,
      end: localMidnight(start, 1),
    };
  });
}

/** Sums credits without float noise: ledger amounts have six decimals. */
const addCredits = (a: number, b: number): number => Math.round((a + b) * 1e6) / 1e6;

/**
 * One series per key across the days (zero where a key had no use that day), largest total first;
 * with more than `maxSeries` keys, the smallest are merged into "Other". The default fits the theme's
 * six chart colours (--vscode-charts-*) plus a neutral Other.
 */
export function usageChart(days: readonly DayBucket[], groupsPerDay: readonly (readonly UsageGroup[])[], maxSeries = 7): UsageChart {
  const byKey = new Map<string, UsageSeries>();
  let totalCredits = 0;
  let totalRequests = 0;
  days.forEach((_, day) => {
    for (const group of groupsPerDay[day] ?? []) {
      let series = byKey.get(group.key);
      if (!series) {
        series = { key: group.key, credits: days.map(() => 0), requests: days.map(() => 0), totalCredits: 0 };
        byKey.set(group.key, series);
      }
      series.credits[day] = addCredits(series.credits[day]!, group.cost);
      series.requests[day]! += group.requests;
      series.totalCredits = addCredits(series.totalCredits, group.cost);
      totalCredits = addCredits(totalCredits, group.cost);
      totalRequests += group.requests;
    }
  });
  const ranked = [...byKey.values()].sort((a, b) => b.totalCredits - a.totalCredits || a.key.localeCompare(b.key));
  if (ranked.length <= maxSeries) return { days: [...days], series: ranked, totalCredits, totalRequests };
  const kept = ranked.slice(0, maxSeries - 1);
  const other: UsageSeries = { key: OTHER_SERIES, credits: days.map(() => 0), requests: days.map(() => 0), totalCredits: 0 };
  for (const series of ranked.slice(maxSeries - 1)) {
    series.credits.forEach((credits, day) => (other.credits[day] = addCredits(other.credits[day]!, credits)));
    series.requests.forEach((requests, day) => (other.requests[day]! += requests));
    other.totalCredits = addCredits(other.totalCredits, series.totalCredits);
  }
  return { days: [...days], series: [...kept, other], totalCredits, totalRequests };
}
