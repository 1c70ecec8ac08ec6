/**
 * The credit balance over time, replayed from the grants and the usage rows' credit costs with the
 * ledger's own rules (proxy/ledger/credits.ts): spending takes the grant that expires first, what no
 * grant covers is debt that the next grant repays, and an expired grant's remainder is written off at
 * its expiry. The ledger keeps no per-event balance, and a grant's expired remainder is visible only by
 * replaying what was spent from it, hence the replay. Pure; arithmetic in micro-credits.
 */
import type { Micro } from '../shared/money';
import { creditsToMicro, microToCredits } from '../shared/money';
import type { GrantRow, UsageRow } from '../shared/protocol';
import type { BalanceEvent, BalancePoint } from '../shared/rpc';
import type { Ledger } from './ledger/ledger';

/** What the replay reads of a usage row. */
export type Spend = Pick<UsageRow, 'ts' | 'creditCost'>;

export interface BalanceHistoryOptions {
  /** The end of the history (a final `now` point); ms since the epoch. */
  now: number;
  /** Start of the history shown; earlier events only set the opening balance. ms since the epoch. */
  since?: number;
  /** IANA zone whose calendar days group the spending into one point each; default UTC. */
  timeZone?: string;
}

interface LiveGrant {
  id: number;
  remaining: Micro;
  /** Expiry in ms, or Infinity: spend what expires first, then by id (the ledger's spend order). */
  expiresAt: number;
}

function toMicro(credits: number): Micro {
  return creditsToMicro(credits) ?? Math.round(credits * 1_000_000);
}

/** A day key per time zone ("2026-11-03"), cached formatter. */
function dayKeyOf(timeZone: string): (ts: number) => string {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return (ts) => format.format(ts);
}

/**
 * The balance after each grant, each day's credit spending and each expiry write-off, oldest first,
 * ending with a `now` point. Grants must come in id order (as the ledger lists them) and spending in
 * time order. An account that never had a grant or a credit charge has no history: [].
 */
export function balanceHistory(grants: readonly GrantRow[], spending: readonly Spend[], options: BalanceHistoryOptions): BalancePoint[] {
  const dayKey = dayKeyOf(options.timeZone ?? 'UTC');
  const live: LiveGrant[] = [];
  const points: { ts: number; balance: Micro; change: Micro; event: BalanceEvent }[] = [];
  let balance: Micro = 0;
  let debt: Micro = 0;
  /** Spending not yet emitted: one point per calendar day, at the day's last charge. */
  let pending: { day: string; ts: number; amount: Micro; balance: Micro } | null = null;

  const emit = (ts: number, change: Micro, event: BalanceEvent): void => {
    points.push({ ts, balance, change, event });
  };
  const flush = (): void => {
    if (pending) points.push({ ts: pending.ts, balance: pending.balance, change: -pending.amount, event: 'spending' });
    pending = null;
  };
  // The ledger writes an expired remainder off at the first write after the expiry, dated at the expiry.
  const expireBy = (ts: number): void => {
    const due = live.filter((g) => g.expiresAt <= ts && g.remaining > 0).sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id);
    for (const grant of due) {
      flush();
      balance -= grant.remaining;
      emit(grant.expiresAt, -grant.remaining, 'expiry');
      grant.remaining = 0;
    }
  };
  const addGrant = (grant: GrantRow, ts: number): void => {
    const amount = toMicro(grant.amount);
    const repaid = Math.min(debt, amount);
    debt -= repaid;
    balance += amount;
    const expiresAt = grant.expiresAt === null ? Infinity : Date.parse(grant.expiresAt);
    live.push({ id: grant.id, remaining: amount - repaid, expiresAt });
    live.sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id);
    flush();
    emit(ts, amount, grant.source);
  };
  const spend = (amount: Micro, ts: number): void => {
    let left = amount;
    for (const grant of live) {
      if (left === 0) break;
      const take = Math.min(left, grant.remaining);
      grant.remaining -= take;
      left -= take;
    }
    debt += left;
    balance -= amount;
    const day = dayKey(ts);
    if (pending && pending.day !== day) flush();
    pending = { day, ts, amount: (pending?.amount ?? 0) + amount, balance };
  };

  let g = 0;
  for (const row of spending) {
    const amount = toMicro(row.creditCost);
    if (amount <= 0) continue;
    const ts = Date.parse(row.ts);
    // A grant and a charge in the same millisecond: the grant first (it may be what admitted the charge).
    for (; g < grants.length && Date.parse(grants[g]!.ts) <= ts; g++) {
      const grantTs = Date.parse(grants[g]!.ts);
      expireBy(grantTs);
      addGrant(grants[g]!, grantTs);
    }
    expireBy(ts);
    spend(amount, ts);
  }
  for (; g < grants.length; g++) {
    const grantTs = Date.parse(grants[g]!.ts);
    expireBy(grantTs);
    addGrant(grants[g]!, grantTs);
  }
  expireBy(options.now);
  flush();
  if (points.length === 0) return [];

  let shown = points;
  const since = options.since;
  if (since !== undefined) {
    const before = points.filter((p) => p.ts < since);
    const opening = before.at(-1)?.balance ?? 0;
    shown = [{ ts: since, balance: opening, change: 0, event: 'start' }, ...points.filter((p) => p.ts >= since)];
  }
  shown.push({ ts: Math.max(options.now, shown.at(-1)!.ts), balance, change: 0, event: 'now' });
  return shown.map((p) => ({ ts: new Date(p.ts).toISOString(), balance: microToCredits(p.balance), change: microToCredits(p.change), event: p.event }));
}

const DAY = 86_400_000;
const CHUNK_DAYS = 7;

/**
 * Every credit charge in the ledger, oldest first, as compact {ts, creditCost}: read a week at a time
 * (a long history never sits in memory as full rows) and yielding to the event loop between weeks, so
 * the gateway keeps serving requests during a long read.
 */
export async function readCreditSpending(ledger: Pick<Ledger, 'usageRows' | 'usageGroups'>, now: number): Promise<Spend[]> {
  const firstDay = ledger.usageGroups({ groupBy: 'day', limit: 1 })[0]?.key;
  if (firstDay === undefined) return [];
  const spending: Spend[] = [];
  for (let from = Date.parse(`${firstDay}T00:00:00Z`); from <= now; from += CHUNK_DAYS * DAY) {
    const until = from + CHUNK_DAYS * DAY;
    const rows = ledger.usageRows({ since: new Date(from).toISOString(), until: new Date(until).toISOString() });
    for (const row of rows) if (row.creditCost > 0) spending.push({ ts: row.ts, creditCost: row.creditCost });
    if (until <= now) await new Promise((resolve) => setImmediate(resolve));
  }
  return spending;
}
