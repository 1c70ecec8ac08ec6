/**
 * The credit balance over time, for the usage panel's chart: the credit log's movements
 * (ledger/creditLog.ts) summed in order from the opening balance. One point per grant, refund and
 * expiry, one per calendar day of credit spending (at the day's last charge), and a final `now`. The
 * log already says what each movement did to the balance; nothing here knows how charges are spent.
 * Pure; arithmetic in micro-credits.
 */
import type { Micro } from '../shared/money';
import { microToCredits } from '../shared/money';
import type { BalanceEvent, BalancePoint } from '../shared/rpc';
import type { CreditLog } from './ledger/creditLog';

export interface BalanceHistoryOptions {
  /** Start of the history shown (the log was read from here: its opening balance is the balance then). */
  since?: number;
  /** IANA zone whose calendar days group the spending into one point each; default UTC. */
  timeZone?: string;
}

/** A day key per time zone ("2026-11-03"), cached formatter. */
function dayKeyOf(timeZone: string): (ts: number) => string {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return (ts) => format.format(ts);
}

interface Point {
  ts: number;
  balance: Micro;
  change: Micro;
  event: BalanceEvent;
}

/**
 * The balance after each movement, oldest first, ending with a `now` point at the log's time. An
 * account whose log is empty and whose opening balance is zero has no history: [].
 */
export function balanceHistory(log: CreditLog, options: BalanceHistoryOptions = {}): BalancePoint[] {
  if (log.movements.length === 0 && log.opening === 0) return [];
  const dayKey = dayKeyOf(options.timeZone ?? 'UTC');
  const points: Point[] = options.since === undefined ? [] : [{ ts: options.since, balance: log.opening, change: 0, event: 'start' }];
  let balance = log.opening;
  /** The calendar day of the last point if it is a spending point: the next charge that day joins it. */
  let spendingDay: string | null = null;
  for (const movement of log.movements) {
    balance += movement.change;
    const key = movement.kind === 'spending' ? dayKey(movement.ts) : null;
    const last = points.at(-1);
    if (key !== null && key === spendingDay && last) {
      Object.assign(last, { ts: movement.ts, balance, change: last.change + movement.change });
    } else {
      points.push({ ts: movement.ts, balance, change: movement.change, event: movement.kind });
    }
    spendingDay = key;
  }
  points.push({ ts: Math.max(log.asOf, points.at(-1)?.ts ?? log.asOf), balance, change: 0, event: 'now' });
  return points.map((p) => ({ ts: new Date(p.ts).toISOString(), balance: microToCredits(p.balance), change: microToCredits(p.change), event: p.event }));
}
