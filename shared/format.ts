/**
 * Number, time and duration formatting for the status bar, tooltip, messages and the CLI. Pure: the clock
 * and the time zone come in as arguments, so tests pin them.
 */

/**
 * Formatters are built on first use: loading ICU's data costs a process ~6 MiB of resident memory, and
 * the gateway (which imports this module for its messages) usually never formats a number.
 */
function lazy<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= create());
}

const creditFormat = lazy(() => new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 }));
const preciseCreditFormat = lazy(() => new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 }));
const usdFormat = lazy(() => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }));

/** Credits for display: 1240 → "1,240", 12.345 → "12.35"; amounts under 0.01 keep their digits. */
export function formatCredits(credits: number): string {
  if (credits !== 0 && Math.abs(credits) < 0.01) return preciseCreditFormat().format(credits);
  return creditFormat().format(credits);
}

/** "1,240 cr": the status bar's unit. */
export function formatCr(credits: number): string {
  return `${formatCredits(credits)} cr`;
}

export function formatUsd(usd: number): string {
  return usdFormat().format(usd);
}

/** A percentage with at most one decimal: 25 → "25%", 37.55 → "37.6%". */
export function formatPercent(percent: number): string {
  return `${Math.round(percent * 10) / 10}%`;
}

/** A countdown: "45 s", "12 min", "2 h 05 min", "3 d 4 h". Negative durations read as "now". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return 'now';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export interface TimeFormatOptions {
  /** IANA time zone; undefined = the machine's local zone. */
  timeZone?: string;
  locale?: string;
}

/**
 * A wall-clock time in local time: "14:30" today, "Tue 09:15" within the week, "Nov 3, 09:15" later.
 */
export function formatLocalTime(at: number, now: number, options: TimeFormatOptions = {}): string {
  const { timeZone, locale = 'en-GB' } = options;
  const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hour12: false, timeZone }).format(at);
  const day = (t: number): string => new Intl.DateTimeFormat('en-CA', { dateStyle: 'short', timeZone }).format(t);
  if (day(at) === day(now)) return time;
  if (Math.abs(at - now) < 6 * 86_400_000) {
    return `${new Intl.DateTimeFormat('en-US', { weekday: 'short', timeZone }).format(at)} ${time}`;
  }
  return `${new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone }).format(at)}, ${time}`;
}
