/** Builds the contract Status JSON (docs/product.md §2) from the running totals: credits as 6-dp numbers. */
import type { Micro } from '../../shared/money';
import { MICRO_PER_CREDIT } from '../../shared/money';
import type { PlanDefinition } from '../../shared/plans';
import { WINDOW_MINUTES, WINDOW_NAMES } from '../../shared/plans';
import type { LastCharge, Status, WindowStatus } from '../../shared/protocol';
import type { Decision, WindowUse } from './allowance';
import type { UsageTailRow } from './rows';

export interface StatusInput {
  planName: string;
  plan: PlanDefinition;
  /** Why the plan gives no allowance when its name is not defined, else null. */
  planWarning: string | null;
  autoUseCredits: boolean;
  /** Every window name with its limit (0 when the plan gives none) and its open period's use. */
  windows: readonly WindowUse[];
  planHeld: Micro;
  balance: Micro;
  creditHeld: Micro;
  decision: Decision;
  lastCharge: UsageTailRow | null;
  planBurnLastHour: Micro;
  /** Models recently priced by the card's default (RecentUsage.unpricedModels). */
  unpricedModels: readonly string[];
}

/**
 * Micro-credits as a credits number. Dividing an integer by 10^6 yields the double nearest to the exact
 * quotient, which is the same double as parsing its 6-decimal string (shared/money microToCredits), at a
 * fraction of the cost: status is built after every admit and post. test/ledger-status.test.ts checks
 * the two agree.
 */
export function credits(micro: Micro): number {
  return micro / MICRO_PER_CREDIT;
}

export function buildStatus(input: StatusInput): Status {
  const status: Status = {
    plan: input.planName,
    state: input.decision.state,
    autoUseCredits: input.autoUseCredits,
    windows: WINDOW_NAMES.map((name) => windowStatus(input, name)),
    credits: {
      balance: credits(input.balance),
      held: credits(input.creditHeld),
      available: credits(input.balance - input.creditHeld),
    },
    lastCharge: input.lastCharge && lastCharge(input.lastCharge),
    burnRatePerHour: credits(input.planBurnLastHour),
  };
  // Present only when there is something to say, so a healthy status keeps the contract shape.
  if (input.planWarning !== null) status.planWarning = input.planWarning;
  if (input.unpricedModels.length > 0) status.unpricedModels = [...input.unpricedModels];
  return status;
}

/** Percent of a window's limit used, with two decimals (0 for a window the plan does not limit). */
export function usedPercent(use: WindowUse): number {
  return use.limit > 0 ? Math.round((use.used / use.limit) * 10_000) / 100 : 0;
}

function windowStatus(input: StatusInput, name: (typeof WINDOW_NAMES)[number]): WindowStatus {
  const use = input.windows.find((w) => w.name === name)!;
  const { limit, used } = use;
  return {
    name,
    limit: credits(limit),
    used: credits(used),
    remaining: credits(Math.max(0, limit - used)),
    usedPercent: usedPercent(use),
    held: limit > 0 ? credits(input.planHeld) : 0,
    resetsAt: use.endsAt === null ? null : isoTime(use.endsAt),
    windowMinutes: WINDOW_MINUTES[name],
  };
}

function lastCharge(row: UsageTailRow): LastCharge {
  return { id: row.id, ts: isoTime(row.ts), model: row.model, client: row.client, cost: credits(row.cost) };
}

// The same few instants (the windows' ends, the last charge) are formatted over and over.
const isoCache = new Map<number, string>();

function isoTime(ms: number): string {
  let text = isoCache.get(ms);
  if (text === undefined) {
    if (isoCache.size >= 64) isoCache.clear();
    text = new Date(ms).toISOString();
    isoCache.set(ms, text);
  }
  return text;
}
