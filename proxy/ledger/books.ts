/**
 * The books check: the running totals the ledger keeps (the account's balance and debt, each grant's
 * remainder and refunded sum) against what the log's rows add up to, and every charge and refund
 * against the allocation rows that paid for it. One query over the rows, the same SQL on both stores
 * (plain joins and aggregates); run by `creditgate verify` and by the tests after every operation
 * sequence. The cheap part of this (no rows read) is asserted on every write: rules.ts assertTotals.
 *
 * Rows older than the log (schema.ts migration 8) have no allocation rows: the per-grant and
 * per-charge checks start where the account row's log_from_* say the complete log begins.
 */

/** What the books query returns: the totals and, for each kind of row, how many disagree. */
export interface BooksFigures {
  balance: number;
  debt: number;
  /** Σ grants − Σ usage credit costs − Σ expiries − Σ refunds. */
  balanceFromRows: number;
  /** Σ grants' remainders: less the debt, the balance. */
  remaining: number;
  /** Grants whose remainder is not their amount less what the log took from them. */
  grantsOff: number;
  /** Grants whose refunded sum is not the sum of their refunds. */
  refundedOff: number;
  /** Charges (usage rows with a credit cost) whose allocation rows do not add up to it. */
  chargesOff: number;
  /** Refunds whose allocation rows do not add up to them. */
  refundsOff: number;
  /** Holds that are open and also settled or voided, or settled more than once. */
  holdsTwice: number;
  /** PostgreSQL only (postgres/writePathSchema.ts): running totals of open holds that are not what the holds add up to. */
  heldOff?: number;
  /** PostgreSQL only: hold and usage rows that name no seat. */
  seatless?: number;
}

/**
 * The books query. `balance` is the SQL for the account's current balance: the stored column on
 * PostgreSQL, the stored column less the usage rows not yet folded into it on SQLite (fold.ts).
 */
export function booksSql(balance: string): string {
  return `SELECT
    ${balance} AS balance,
    (SELECT debt FROM account WHERE id = 1) AS debt,
    (SELECT coalesce(sum(amount), 0) FROM grants)
      - (SELECT coalesce(sum(credit_cost), 0) FROM usage)
      - (SELECT coalesce(sum(amount), 0) FROM credit_events WHERE kind = 'expire')
      - (SELECT coalesce(sum(amount), 0) FROM refunds) AS balance_from_rows,
    (SELECT coalesce(sum(remaining), 0) FROM grants) AS remaining,
    (SELECT count(*) FROM grants g
       LEFT JOIN (SELECT grant_id, sum(amount) AS taken FROM credit_events
                  WHERE kind IN ('spend', 'expire', 'debt_repaid') GROUP BY grant_id) e ON e.grant_id = g.id
       WHERE g.id > (SELECT log_from_grant_id FROM account WHERE id = 1)
         AND g.remaining <> g.amount - coalesce(e.taken, 0)) AS grants_off,
    (SELECT count(*) FROM grants g
       LEFT JOIN (SELECT grant_id, sum(amount) AS refunded FROM refunds GROUP BY grant_id) r ON r.grant_id = g.id
       WHERE g.refunded <> coalesce(r.refunded, 0)) AS refunded_off,
    (SELECT count(*) FROM usage u
       LEFT JOIN (SELECT usage_id, sum(amount) AS paid FROM credit_events
                  WHERE usage_id IS NOT NULL AND kind IN ('spend', 'debt') GROUP BY usage_id) e ON e.usage_id = u.id
       WHERE u.id > (SELECT log_from_usage_id FROM account WHERE id = 1)
         AND u.credit_cost <> coalesce(e.paid, 0)) AS charges_off,
    (SELECT count(*) FROM refunds r
       LEFT JOIN (SELECT refund_id, sum(amount) AS paid FROM credit_events
                  WHERE refund_id IS NOT NULL AND kind IN ('spend', 'debt') GROUP BY refund_id) e ON e.refund_id = r.id
       WHERE r.amount <> coalesce(e.paid, 0)) AS refunds_off,
    (SELECT count(*) FROM (SELECT hold_id FROM (SELECT hold_id FROM usage UNION ALL SELECT id FROM voided_holds
                                                UNION ALL SELECT id FROM holds) settled
                           GROUP BY hold_id HAVING count(*) > 1) twice) AS holds_twice`;
}

/** The columns of booksSql as they come back (PostgreSQL returns bigint sums as strings). */
export type RawBooks = Record<
  'balance' | 'debt' | 'balance_from_rows' | 'remaining' | 'grants_off' | 'refunded_off' | 'charges_off' | 'refunds_off' | 'holds_twice',
  number | string | null
> & Partial<Record<'held_off' | 'seatless', number | string | null>>;

export function toBooksFigures(raw: RawBooks): BooksFigures {
  const n = (value: number | string | null): number => Number(value ?? 0);
  return {
    balance: n(raw.balance),
    debt: n(raw.debt),
    balanceFromRows: n(raw.balance_from_rows),
    remaining: n(raw.remaining),
    grantsOff: n(raw.grants_off),
    refundedOff: n(raw.refunded_off),
    chargesOff: n(raw.charges_off),
    refundsOff: n(raw.refunds_off),
    holdsTwice: n(raw.holds_twice),
    ...(raw.held_off === undefined ? {} : { heldOff: n(raw.held_off) }),
    ...(raw.seatless === undefined ? {} : { seatless: n(raw.seatless) }),
  };
}

/** What is wrong with the books, one sentence each; [] when they balance. */
export function booksProblems(f: BooksFigures): string[] {
  const problems: string[] = [];
  if (f.balance !== f.balanceFromRows) {
    problems.push(`the balance is ${f.balance} µcr but the grants, charges, expiries and refunds add up to ${f.balanceFromRows} µcr`);
  }
  if (f.remaining - f.debt !== f.balance) {
    problems.push(`the grants' remainders (${f.remaining} µcr) less the debt (${f.debt} µcr) are not the balance (${f.balance} µcr)`);
  }
  const count = (n: number, what: string): void => {
    if (n > 0) problems.push(`${n} ${what}`);
  };
  count(f.grantsOff, "grant(s) whose remainder is not its amount less what the log took from it");
  count(f.refundedOff, 'grant(s) whose refunded sum is not the sum of its refunds');
  count(f.chargesOff, 'charge(s) whose allocation rows do not add up to their credit cost');
  count(f.refundsOff, 'refund(s) whose allocation rows do not add up to them');
  count(f.holdsTwice, 'hold(s) settled or voided more than once, or still open after being settled');
  count(f.heldOff ?? 0, "seat's plan or credit hold total(s) that are not the sum of the seat's open holds");
  count(f.seatless ?? 0, 'hold or usage row(s) that name no seat');
  return problems;
}
