/**
 * The account rules a gateway enforces, remembered in its data directory. A CLI command run without
 * `--config` on a directory whose gateway was started with one used to apply the built-in plans and
 * card instead: `status` showed `plan` at 0 % while the gateway enforced `credits` at 134 %, and
 * `plan set` refused a plan the gateway knew. Every gateway now writes the rules it enforces here, as
 * a config file of their own, and commands without `--config` read them from here.
 *
 * Only the account's rules are remembered (plans, the starting plan, the rate card, auto-use and
 * auto-reload): ports, timeouts and upstream addresses belong to the gateway process, not to the
 * account, and a command never needs them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { microToCredits } from '../../shared/money';
import { PRIVATE_FILE_MODE } from '../dataDir';
import type { ResolvedConfig } from './load';
import type { ConfigFile } from './schema';

export const REMEMBERED_CONFIG_FILE = 'gateway-config.json';

/** The account rules of a resolved config, as a config file that loads back to the same rules. */
export function accountRules(config: ResolvedConfig): ConfigFile {
  const rules: ConfigFile = { plan: config.plan, plans: config.plans, rateCard: config.rateCard, autoUseCredits: config.autoUseCredits };
  if (config.autoReload) {
    rules.autoReload = {
      enabled: true,
      threshold: microToCredits(config.autoReload.threshold),
      target: microToCredits(config.autoReload.target),
      maxPerMonth: config.autoReload.maxPerMonth,
    };
  }
  return rules;
}

/** Writes the rules the gateway on `dataDir` enforces (private, replaced atomically). */
export function rememberAccountRules(dataDir: string, config: ResolvedConfig): void {
  const file = path.join(dataDir, REMEMBERED_CONFIG_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(accountRules(config), null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  fs.renameSync(temporary, file);
}

/** The remembered rules' file, when a gateway has run on `dataDir`; else null. */
export function rememberedRulesFile(dataDir: string): string | null {
  const file = path.join(dataDir, REMEMBERED_CONFIG_FILE);
  return fs.existsSync(file) ? file : null;
}
