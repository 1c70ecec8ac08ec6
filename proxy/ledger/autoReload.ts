/**
 * Auto-reload (opt-in): when a post leaves the balance below a threshold, buy up to a target, at most
 * maxPerMonth times per calendar month (UTC). Each reload is a `purchase` grant whose idempotency key
 * names the month and the reload's number, so the monthly count is read back from the grants
 * themselves and two processes can never both buy the same reload.
 */
import type { Micro } from '../../shared/money';

export interface AutoReloadSettings {
  threshold: Micro;
  target: Micro;
  maxPerMonth: number;
}

export function validateAutoReload(cfg: AutoReloadSettings): string | null {
  if (!Number.isSafeInteger(cfg.threshold) || cfg.threshold < 0) return 'auto-reload threshold must be a non-negative integer of micro-credits';
  if (!Number.isSafeInteger(cfg.target) || cfg.target <= cfg.threshold) return 'auto-reload target must be an integer above the threshold';
  if (!Number.isSafeInteger(cfg.maxPerMonth) || cfg.maxPerMonth < 0) return 'auto-reload maxPerMonth must be a non-negative integer';
  return null;
}

/** Every reload's idempotency key starts with this. */
export const RELOAD_KEY_ROOT = 'auto-reload:';

/** `auto-reload:2026-11:` — every reload key of the month shares it, so they sort together in the key index. */
export function reloadKeyPrefix(now: number): string {
  return `${RELOAD_KEY_ROOT}${new Date(now).toISOString().slice(0, 7)}:`;
}

/** How much to buy now, or 0 when the balance is not below the threshold. */
export function reloadAmount(cfg: AutoReloadSettings, balance: Micro): Micro {
  return balance < cfg.threshold ? cfg.target - balance : 0;
}
