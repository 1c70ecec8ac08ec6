/**
 * The messages between the Usage panel's webview (webview/usagePanel.ts) and the extension
 * (commands/showUsage.ts), typed once for both sides. The extension owns the data and the view
 * settings; the webview renders and asks.
 */
import type { GrantRow, Status } from '../../shared/protocol';
import type { BalancePoint } from '../../shared/rpc';
import type { UsageChart } from '../presentation/usageChart';

export const RANGE_DAYS = [7, 30, 90] as const;
export type RangeDays = (typeof RANGE_DAYS)[number];

export const SPLIT_KEYS = ['model', 'client', 'feature'] as const;
export type SplitKey = (typeof SPLIT_KEYS)[number];

/** What the panel shows: the last `rangeDays` local calendar days, usage split by `split`. */
export interface PanelView {
  rangeDays: RangeDays;
  split: SplitKey;
}

export const DEFAULT_VIEW: PanelView = { rangeDays: 30, split: 'model' };

/** Everything but the live status, loaded for one view. */
export interface PanelData {
  view: PanelView;
  usage: UsageChart;
  balance: BalancePoint[];
  grants: GrantRow[];
}

export type ToWebview =
  /** The latest pushed status (null: the gateway is not running); gauges update at once. */
  | { type: 'status'; status: Status | null }
  | { type: 'data'; data: PanelData }
  /** Loading failed; the message is for the user. The last data stays on screen. */
  | { type: 'error'; message: string }
  | { type: 'exportFinished' };

export type FromWebview =
  /** The script is listening (sent on every load, including after the panel was hidden). */
  | { type: 'ready' }
  | { type: 'setView'; view: PanelView }
  | { type: 'exportCsv' };

export function isRangeDays(value: unknown): value is RangeDays {
  return RANGE_DAYS.includes(value as RangeDays);
}

export function isSplitKey(value: unknown): value is SplitKey {
  return SPLIT_KEYS.includes(value as SplitKey);
}

/** What the webview keeps across a window reload (vscode.setState): the view it was showing. */
export interface SavedPanelState {
  view: PanelView;
}

/** The view a restored panel shows: the saved one when it is well-formed, else the default. */
export function restoredView(state: unknown): PanelView {
  const view = (state as { view?: Record<string, unknown> } | null | undefined)?.view;
  return view && isRangeDays(view.rangeDays) && isSplitKey(view.split) ? { rangeDays: view.rangeDays, split: view.split } : DEFAULT_VIEW;
}

/** Validates a message from the webview (its content is not trusted to be well-formed). */
export function parseFromWebview(message: unknown): FromWebview | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'exportCsv':
      return { type: m.type };
    case 'setView': {
      const view = m.view as Record<string, unknown> | undefined;
      return view && isRangeDays(view.rangeDays) && isSplitKey(view.split) ? { type: 'setView', view: restoredView(m) } : null;
    }
    default:
      return null;
  }
}
