/**
 * A post does not rewrite the account row: the stored totals include the usage rows up to
 * `totals_usage_id`, and every later row is folded in here by whoever reads them, in any process.
 * A usage row carries all a post changed: its credit cost (balance), its plan cost (the windows its
 * feature counts against under the current plan: a plan or period change rewrites the row, so later
 * rows all belong to the stored plan and periods), its ts and its hold id (never to be issued again).
 */
import type { PlanDefinition } from '../../shared/plans';
import { applicableWindows } from './allowance';
import type { AccountRow, UsageTailRow } from './rows';

/** Posts between two rewrites of the account row at most: bounds what a reader folds. */
export const FOLD_LIMIT = 1_000;

/** Adds the rows after `account.totalsUsageId` (oldest first) to the totals. */
export function foldUsage(account: AccountRow, plan: PlanDefinition, rows: readonly UsageTailRow[]): void {
  for (const row of rows) {
    if (row.id <= account.totalsUsageId) continue;
    account.balance -= row.creditCost;
    if (row.planCost > 0) {
      for (const name of applicableWindows(plan, row.feature)) {
        const period = account.periods[name];
        if (period) period.used += row.planCost;
      }
    }
    account.lastUsageTs = Math.max(account.lastUsageTs, row.ts);
    account.lastHoldId = Math.max(account.lastHoldId, row.holdId);
    account.totalsUsageId = row.id;
  }
}

/** A copy of the totals a fold moves (the periods copied too, since a fold adds to them). */
export function copyTotals(a: AccountRow): AccountRow {
  const five = a.periods['5h'];
  const week = a.periods.weekly;
  return { ...a, periods: { '5h': five && { ...five }, weekly: week && { ...week } } };
}

/**
 * True when `after` is `before` plus this transaction's own usage rows folded in: a reader folding
 * those rows onto the stored row gets `after`, so the row need not be rewritten.
 */
export function onlyFolded(before: AccountRow, after: AccountRow, plan: PlanDefinition, rows: readonly UsageTailRow[]): boolean {
  foldUsage(before, plan, rows);
  return (
    before.balance === after.balance &&
    before.debt === after.debt &&
    before.nextExpiry === after.nextExpiry &&
    before.lastUsageTs === after.lastUsageTs &&
    before.periods['5h']?.used === after.periods['5h']?.used &&
    before.periods.weekly?.used === after.periods.weekly?.used
  );
}
