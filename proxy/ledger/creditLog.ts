/**
 * The balance's movements, read from the log (schema.ts migration 8) as one query on either store:
 * grants in, refunds, expiries and credit charges out. The balance history (proxy/balanceHistory.ts)
 * is these movements summed in order; it knows nothing of how charges are spent, because the rows
 * already say so. Charges come summed per quarter hour: a day of a busy gateway is 96 rows at most,
 * and every time zone's day boundary falls on a quarter hour, so they still group into local days.
 */
import type { Micro } from '../../shared/money';
import type { GrantSource } from '../../shared/protocol';

/** What moved the balance: a grant (by its source), a refund taken back, an expiry, or credit charges. */
export type MovementKind = GrantSource | 'purchase_refunded' | 'expiry' | 'spending';

export interface CreditMovement {
  ts: number;
  /** Signed: positive for a grant, negative for the rest. */
  change: Micro;
  kind: MovementKind;
}

export interface CreditLog {
  /** The ledger's time the log was read at: expiries due by then are in it. */
  asOf: number;
  /** The balance just before `since` (0 from the beginning). */
  opening: Micro;
  /** Every movement from `since` to now, oldest first (a grant before a charge of the same moment). */
  movements: CreditMovement[];
}

/** How charges are bucketed: a quarter hour, on which every time zone's midnight falls. */
export const SPENDING_BUCKET_MS = 15 * 60 * 1_000;

/**
 * SQL pieces that differ between the stores: the placeholders of `since` and `now` (ms), and how
 * usage rows at or after `since` are selected (SQLite finds them as an id range: usage has no ts index).
 */
export interface CreditLogSql {
  since: string;
  now: string;
  usageFrom: string;
  usageBefore: string;
}

/**
 * An expiry already due but not yet booked (the next write books it, dated at the expiry) is in the
 * log as the grant's remainder with `expires_at <= now`: shown where it belongs.
 */
export function movementsSql(p: CreditLogSql): string {
  const unbooked = `spent_at IS NULL AND expires_at <= ${p.now}`;
  return `SELECT ts, change, kind, ord, id FROM (
      SELECT ts, amount AS change, source AS kind, 0 AS ord, id FROM grants WHERE ts >= ${p.since}
      UNION ALL SELECT ts, -amount, 'purchase_refunded', 1, id FROM refunds WHERE ts >= ${p.since}
      UNION ALL SELECT ts, -amount, 'expiry', 2, grant_id FROM credit_events WHERE kind = 'expire' AND ts >= ${p.since}
      UNION ALL SELECT expires_at, -remaining, 'expiry', 2, id FROM grants WHERE ${unbooked} AND expires_at >= ${p.since}
      UNION ALL SELECT max(ts), -sum(credit_cost), 'spending', 3, min(id) FROM usage
        WHERE credit_cost > 0 AND ${p.usageFrom} GROUP BY ts / ${SPENDING_BUCKET_MS}
    ) m ORDER BY ts, ord, id`;
}

export function openingSql(p: CreditLogSql): string {
  return `SELECT (SELECT coalesce(sum(amount), 0) FROM grants WHERE ts < ${p.since})
    - (SELECT coalesce(sum(amount), 0) FROM refunds WHERE ts < ${p.since})
    - (SELECT coalesce(sum(amount), 0) FROM credit_events WHERE kind = 'expire' AND ts < ${p.since})
    - (SELECT coalesce(sum(remaining), 0) FROM grants WHERE spent_at IS NULL AND expires_at <= ${p.now} AND expires_at < ${p.since})
    - (SELECT coalesce(sum(credit_cost), 0) FROM usage WHERE ${p.usageBefore}) AS opening`;
}

/** The rows as they come back (PostgreSQL returns sums as strings). */
export function toMovement(row: { ts: number | string; change: number | string; kind: MovementKind }): CreditMovement {
  return { ts: Number(row.ts), change: Number(row.change), kind: row.kind };
}
