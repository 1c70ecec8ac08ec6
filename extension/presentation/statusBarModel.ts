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

/** The item's text without icons: `62% left (5h) · 1,240 cr`, `On credits · 1,240 cr`, `Add credits`. */
export function statusText(status: Status): string {
  switch (status.state) {
    case 'blocked':
      return 'Add credits';
    case 'credits':
      return `On credits · ${formatCr(status.credits.balance)}`;
    case 'plan': {
      const window = bindingWindow(status);
      const allowance = window ? `${percentLeft(window)}% left (${window.name})` : `Plan ${status.plan}`;
      return `${allowance} · ${formatCr(status.credits.balance)}`;
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

/** What the item shows while there is no live status (starting, restarting, stopped). */
export type ConnectionPhase = 'starting' | 'running' | 'stopped';

export function offlineText(phase: ConnectionPhase): string {
  return phase === 'stopped' ? 'Creditgate stopped' : 'Creditgate starting…';
}
