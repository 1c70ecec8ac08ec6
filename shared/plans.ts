/** Plans, windows and features: the vocabulary shared by the gateway, the CLI and the extension. */
import { ownValue } from './ownProperty';

export const WINDOW_NAMES = ['5h', 'weekly'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

/** Window lengths in minutes (contract: 300 and 10,080). */
export const WINDOW_MINUTES: Readonly<Record<WindowName, number>> = { '5h': 300, weekly: 10_080 };

export const FEATURES = ['assistant', 'images', 'audio', 'embeddings'] as const;
export type Feature = (typeof FEATURES)[number];

export interface PlanDefinition {
  /** Free allowance per window, in credits. 0 means the plan gives nothing in that window. */
  windows: Record<WindowName, number>;
  /** Features the windows cover; everything else runs on credits. */
  features: string[];
  /** Seats multiply the allowance (business plans). Defaults to 1. */
  seats?: number;
}

/** Built-in plans; the figures are Creditgate's defaults, overridable by name in the config. */
export const BUILT_IN_PLANS: Readonly<Record<string, PlanDefinition>> = {
  free: { windows: { '5h': 0, weekly: 0 }, features: ['assistant'] },
  plus: { windows: { '5h': 50, weekly: 250 }, features: ['assistant'] },
  pro: { windows: { '5h': 300, weekly: 1_500 }, features: ['assistant'] },
  business: { windows: { '5h': 50, weekly: 250 }, features: ['assistant'], seats: 1 },
  enterprise: { windows: { '5h': 0, weekly: 0 }, features: ['assistant'] },
};

/** Built-in plans with the config's plans layered on top (same name overrides, new names are added). */
export function resolvePlans(overrides: Record<string, PlanDefinition> = {}): Record<string, PlanDefinition> {
  return { ...BUILT_IN_PLANS, ...overrides };
}

/** The plan called `name`, or undefined: plan names come from users, so only own entries count. */
export function planNamed(plans: Readonly<Record<string, PlanDefinition>>, name: string): PlanDefinition | undefined {
  return ownValue(plans, name);
}
