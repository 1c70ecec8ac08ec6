/**
 * Which notifications a new status calls for (docs/product.md §5), with their de-duplication:
 * - a threshold (75/90/95 % by default) fires once per window period, keyed by the window's name
 *   and its `resetsAt`, so a new period re-arms it; a jump past several fires only the highest;
 * - the switch from plan to credits is announced once per window period;
 * - blocked fires once per trip (on entering `blocked`), not per request or per status push.
 * Pure: the planner keeps the fired keys (with their expiry) so the caller can persist them.
 */
import type { Status, WindowStatus } from '../../shared/protocol';
import type { WindowName } from '../../shared/plans';
import type { TimeFormatOptions } from '../../shared/format';
import { formatCr, formatDuration, formatLocalTime } from '../../shared/format';
import { allowanceWindows } from './statusBarModel';

export const DEFAULT_THRESHOLDS: readonly number[] = [75, 90, 95];

export type Alert =
  | { kind: 'threshold'; window: WindowName; threshold: number; usedPercent: number; resetsAt: string }
  | { kind: 'onCredits'; window: WindowName; resetsAt: string; balance: number }
  | { kind: 'blocked'; plan: string; unblocksAt: string | null; creditsWaiting: boolean; team: boolean };

/** Fired keys mapped to when they can be forgotten (the window's reset, epoch ms). */
export type FiredKeys = Record<string, number>;

/** Keeps only finite percentages in (0, 100], sorted, without duplicates. */
export function normalizeThresholds(values: readonly unknown[]): number[] {
  const valid = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 100);
  return [...new Set(valid)].sort((a, b) => a - b);
}

const isExhausted = (window: WindowStatus): boolean => window.remaining <= 0;

export class AlertPlanner {
  private thresholds: number[];
  private readonly fired = new Map<string, number>();
  private wasBlocked = false;

  constructor(thresholds: readonly number[] = DEFAULT_THRESHOLDS, fired: FiredKeys = {}) {
    this.thresholds = normalizeThresholds(thresholds);
    for (const [key, expiresAt] of Object.entries(fired)) {
      if (typeof expiresAt === 'number') this.fired.set(key, expiresAt);
    }
  }

  setThresholds(thresholds: readonly number[]): void {
    this.thresholds = normalizeThresholds(thresholds);
  }

  /** The alerts this status calls for, most severe first; each is returned only once. */
  observe(status: Status, now: number): Alert[] {
    this.forgetExpired(now);
    const blocked = status.state === 'blocked';
    const trip = blocked && !this.wasBlocked;
    this.wasBlocked = blocked;

    const alerts: Alert[] = [];
    if (trip) alerts.push(this.blockedAlert(status));

    const switched = status.state === 'credits' ? this.creditsAlert(status) : null;
    if (switched) alerts.push(switched);

    for (const window of allowanceWindows(status)) {
      const alert = this.thresholdAlert(window);
      // A trip or a switch already tells the user more than "90 % used" would.
      if (alert && !blocked && switched?.window !== window.name) alerts.push(alert);
    }
    return alerts;
  }

  /** Fired keys still relevant, for persisting across reloads. */
  firedKeys(): FiredKeys {
    return Object.fromEntries(this.fired);
  }

  private blockedAlert(status: Status): Alert {
    const exhausted = allowanceWindows(status).filter(isExhausted);
    // Every exhausted window must reset before the allowance is usable again: the latest one counts.
    const resets = exhausted.map((w) => w.resetsAt).filter((r): r is string => r !== null);
    const unblocksAt = resets.length === exhausted.length && resets.length > 0 ? resets.reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b)) : null;
    return { kind: 'blocked', plan: status.plan, unblocksAt, creditsWaiting: !status.autoUseCredits && status.credits.available > 0, team: status.seat !== undefined };
  }

  private creditsAlert(status: Status): Extract<Alert, { kind: 'onCredits' }> | null {
    const tripped = allowanceWindows(status).find((w) => isExhausted(w) && w.resetsAt !== null);
    if (!tripped?.resetsAt) return null;
    const key = `credits:${tripped.name}:${tripped.resetsAt}`;
    if (!this.fire(key, tripped.resetsAt)) return null;
    return { kind: 'onCredits', window: tripped.name, resetsAt: tripped.resetsAt, balance: status.credits.balance };
  }

  private thresholdAlert(window: WindowStatus): Alert | null {
    if (window.resetsAt === null) return null;
    let highest: number | null = null;
    for (const threshold of this.thresholds) {
      if (window.usedPercent < threshold) break;
      if (this.fire(`threshold:${window.name}:${window.resetsAt}:${threshold}`, window.resetsAt)) highest = threshold;
    }
    if (highest === null) return null;
    return { kind: 'threshold', window: window.name, threshold: highest, usedPercent: window.usedPercent, resetsAt: window.resetsAt };
  }

  /** Records a key; false when it had fired already. */
  private fire(key: string, resetsAt: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.set(key, Date.parse(resetsAt));
    return true;
  }

  private forgetExpired(now: number): void {
    for (const [key, expiresAt] of this.fired) if (!(expiresAt > now)) this.fired.delete(key);
  }
}

export type AlertAction = 'Add credits' | 'View usage' | 'Turn on auto-use';

export interface AlertMessage {
  severity: 'info' | 'warning' | 'error';
  text: string;
  actions: AlertAction[];
}

/** The words and buttons for an alert. */
export function alertMessage(alert: Alert, now: number, time: TimeFormatOptions = {}): AlertMessage {
  const at = (iso: string): string => {
    const ms = Date.parse(iso);
    return `${formatLocalTime(ms, now, time)} (in ${formatDuration(ms - now)})`;
  };
  switch (alert.kind) {
    case 'threshold':
      return {
        severity: 'warning',
        text: `Creditgate: ${Math.floor(alert.usedPercent)}% of the ${alert.window} allowance is used. It resets at ${at(alert.resetsAt)}.`,
        actions: ['View usage', 'Add credits'],
      };
    case 'onCredits':
      return {
        severity: 'info',
        text: `Creditgate: the ${alert.window} allowance is used up; requests now run on credits (${formatCr(alert.balance)} left) until it resets at ${at(alert.resetsAt)}.`,
        actions: ['View usage', 'Add credits'],
      };
    case 'blocked': {
      const why = alert.creditsWaiting
        ? 'the plan allowance is used up and auto-use of credits is off'
        : alert.team
          ? "the seat's plan allowance is used up and the team's credit pool is empty"
          : 'the plan allowance is used up and there are no credits left';
      const until = alert.unblocksAt === null ? '' : ` The allowance comes back at ${at(alert.unblocksAt)}.`;
      return {
        severity: 'error',
        text: `Creditgate: requests are blocked — ${why}.${until}`,
        actions: alert.creditsWaiting ? ['Turn on auto-use', 'Add credits', 'View usage'] : ['Add credits', 'View usage'],
      };
    }
  }
}

/**
 * The buttons a token may use: a team member changes nothing (no auto-use switch) and buys credits
 * only where the team gateway lets members buy (Status.mayBuyCredits).
 */
export function actionsFor(actions: readonly AlertAction[], status: Pick<Status, 'role' | 'mayBuyCredits'>): AlertAction[] {
  if (status.role !== 'member') return [...actions];
  return actions.filter((action) => action === 'View usage' || (action === 'Add credits' && status.mayBuyCredits === true));
}
