/**
 * What the status bar item shows for a status: its text, background and command. Pure (no vscode
 * import) so the wording is unit-tested; extension/statusBar.ts only copies the result onto the item.
 */
import type { Status, WindowStatus } from '../../shared/protocol';
import { formatCr } from '../../shared/format';

/** docs/product.md §5: the item turns to a warning background at 75 % used. */
export const WARNING_PERCENT = 75;

export type StatusBackground = 'none' | 'warning' | 'error';

/** Windows that carry an allowance on this plan (plans such as `free` have none). */
export function allowanceWindows(status: Status): WindowStatus[] {
  return status.windows.filter((window) => window.limit > 0);
}

/**
 * The window that limits the allowance: the one with the least left. On a tie the shorter window
 * (listed first) wins, since it resets sooner and is what the user hits first.
 */
export function bindingWindow(status: Status): WindowStatus | null {
  let binding: WindowStatus | null = null;
  for (const window of allowanceWindows(status)) {
    if (!binding || window.usedPercent > binding.usedPercent) binding = window;
  }
  return binding;
}

/** Allowance left in a window as a whole percentage, never "0%" while something is left nor "100%" once used. */
export function percentLeft(window: WindowStatus): number {
  const left = Math.max(0, 100 - window.usedPercent);
  if (window.remaining <= 0) return 0;
  if (left > 0 && left < 1) return 1;
  return window.used > 0 ? Math.min(99, Math.floor(left)) : Math.round(left);
}

/**
 * The credits as the item names them: the account's balance, or on a team gateway (a status with a
 * seat) the team pool's, which the seat spends from once its windows are used up.
 */
export function balanceText(status: Status): string {
  return status.seat === undefined ? formatCr(status.credits.balance) : `pool ${formatCr(status.credits.balance)}`;
}

/**
 * The item's text without icons: `62% left (5h) · 1,240 cr`, `On credits · 1,240 cr`, `Add credits`;
 * on a team gateway `62% left (5h) · pool 12,400 cr`, and `Blocked` for a member, who cannot add any
 * (unless the gateway lets members buy credits).
 */
export function statusText(status: Status): string {
  switch (status.state) {
    case 'blocked':
      return status.role === 'member' && status.mayBuyCredits !== true ? `Blocked · ${balanceText(status)}` : 'Add credits';
    case 'credits':
      return `On credits · ${balanceText(status)}`;
    case 'plan': {
      const window = bindingWindow(status);
      const allowance = window ? `${percentLeft(window)}% left (${window.name})` : `Plan ${status.plan}`;
      return `${allowance} · ${balanceText(status)}`;
    }
  }
}

export function statusBackground(status: Status): StatusBackground {
  if (status.state === 'blocked') return 'error';
  return allowanceWindows(status).some((window) => window.usedPercent >= WARNING_PERCENT) ? 'warning' : 'none';
}

/** The codicon shown before the text. */
export function statusIcon(status: Status): string {
  switch (status.state) {
    case 'blocked':
      return 'error';
    case 'credits':
      return 'credit-card';
    case 'plan':
      return 'pulse';
  }
}

/**
 * Where the connection to the gateway stands. A local gateway process is starting, running or
 * stopped; a team gateway may also be unreachable (retrying) or have refused the token.
 */
export type ConnectionPhase = 'starting' | 'running' | 'stopped' | 'unreachable' | 'unauthorized';

/** What the item shows while there is no live status. */
export function offlineText(phase: Exclude<ConnectionPhase, 'running'>): string {
  switch (phase) {
    case 'stopped':
      return 'Creditgate stopped';
    case 'starting':
      return 'Creditgate starting…';
    case 'unreachable':
      return 'Team gateway unreachable';
    case 'unauthorized':
      return 'Team gateway: token needed';
  }
}
