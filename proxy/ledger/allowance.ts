/**
 * The accounting rules of docs/product.md §1/§6 as pure functions over the running totals: which state a request
 * gets (plan, credits, blocked) and how a posted cost splits between the plan and the credits.
 * No SQL here, so the property tests can reason about the same rules the ledger applies.
 */
import type { Micro } from '../../shared/money';
import { MICRO_PER_CREDIT } from '../../shared/money';
import type { PlanDefinition, WindowName } from '../../shared/plans';
import { WINDOW_MINUTES, WINDOW_NAMES } from '../../shared/plans';

export const MS_PER_MINUTE = 60_000;

export function windowLengthMs(name: WindowName): number {
  return WINDOW_MINUTES[name] * MS_PER_MINUTE;
}

/** A plan window as the rules see it: its allowance and what has been posted in its open period. */
export interface WindowUse {
  name: WindowName;
  limit: Micro;
  /** Posted plan usage in the open period; 0 when no period is open. */
  used: Micro;
  /** End of the open period, or null when none is open. */
  endsAt: number | null;
}

/** A window's allowance in micro-credits (seats multiply it). */
export function windowLimit(plan: PlanDefinition, name: WindowName): Micro {
  return Math.round(plan.windows[name] * (plan.seats ?? 1) * MICRO_PER_CREDIT);
}

/** The windows a request on `feature` counts against; empty means the plan gives it nothing (credits only). */
export function applicableWindows(plan: PlanDefinition, feature: string): WindowName[] {
  if (!plan.features.includes(feature)) return [];
  return WINDOW_NAMES.filter((name) => windowLimit(plan, name) > 0);
}

export type BlockReason = 'allowance_exhausted' | 'no_credits' | 'auto_use_off' | 'seat_cap';

export type Decision =
  | { state: 'plan' }
  | { state: 'credits' }
  | { state: 'blocked'; reason: BlockReason; retryAt: number | null };

export interface CreditPosition {
  balance: Micro;
  /** Σ open credit holds. */
  held: Micro;
  autoUse: boolean;
  /** A team seat's weekly cap, not the pool, is what leaves nothing to spend (rules.ts creditPosition). */
  capped?: boolean;
}

/**
 * Plan while every applicable window has something left after the open plan holds (whatever this
 * request's estimate); else credits while auto-use is on and balance − held > 0; else blocked.
 */
export function decide(windows: readonly WindowUse[], planHeld: Micro, credits: CreditPosition): Decision {
  const exhausted = windows.filter((w) => w.limit - w.used - planHeld <= 0);
  if (windows.length > 0 && exhausted.length === 0) return { state: 'plan' };
  const creditsLeft = credits.balance - credits.held > 0;
  if (creditsLeft && credits.autoUse) return { state: 'credits' };
  const reason: BlockReason = creditsLeft ? 'auto_use_off' : credits.capped && credits.autoUse ? 'seat_cap' : windows.length > 0 ? 'allowance_exhausted' : 'no_credits';
  return { state: 'blocked', reason, retryAt: windows.length > 0 ? latestReset(exhausted) : null };
}

/** When every exhausted window will have reset; null when one is exhausted by holds alone (no open period). */
function latestReset(exhausted: readonly WindowUse[]): number | null {
  let latest = 0;
  for (const w of exhausted) {
    if (w.endsAt === null) return null;
    latest = Math.max(latest, w.endsAt);
  }
  return latest;
}

export interface Split {
  planCost: Micro;
  creditCost: Micro;
}

/**
 * A plan hold's cost goes to the plan up to what is left (the smallest limit − used); the excess goes to
 * credits only with auto-use on and a positive balance (which may then go negative by at most the
 * excess). Otherwise the windows record the whole cost as an overrun.
 */
export function splitPlanCharge(cost: Micro, windows: readonly WindowUse[], credits: Omit<CreditPosition, 'held'>): Split {
  let planLeft = windows.length > 0 ? Infinity : 0;
  for (const w of windows) planLeft = Math.min(planLeft, Math.max(0, w.limit - w.used));
  const excess = cost - Math.min(cost, planLeft);
  if (excess > 0 && credits.autoUse && credits.balance > 0) return { planCost: cost - excess, creditCost: excess };
  return { planCost: cost, creditCost: 0 };
}

/**
 * The most an admitted request may cost, before its own hold: on the plan, what every window has left
 * after the open plan holds (the smallest), plus the usable credits when auto-use would pay an excess;
 * on credits, the balance less the open credit holds. The gateway caps the request's output to it, so
 * a request admitted on the last of an allowance cannot run far past it.
 */
export function spendableFor(state: 'plan' | 'credits', windows: readonly WindowUse[], planHeld: Micro, credits: CreditPosition): Micro {
  const creditsLeft = Math.max(0, credits.balance - credits.held);
  if (state === 'credits') return creditsLeft;
  let planLeft = Infinity;
  for (const w of windows) planLeft = Math.min(planLeft, w.limit - w.used - planHeld);
  planLeft = Math.max(0, planLeft);
  return credits.autoUse && credits.balance > 0 ? planLeft + creditsLeft : planLeft;
}
