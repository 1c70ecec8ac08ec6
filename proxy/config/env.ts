/** Environment overrides (docs/product.md §4): they win over the config file; bad values name the variable. */
import type { Parsed } from './values';
import { parseBaseUrl, parseDatabaseUrl, parsePort } from './values';

export interface EnvOverrides {
  openaiBaseUrl?: string;
  anthropicBaseUrl?: string;
  port?: number;
  /** A rate card file that replaces the config's card (the editor's `creditgate.rateCardFile`). */
  rateCardFile?: string;
  /** The team ledger's PostgreSQL URL (CREDITGATE_DATABASE_URL). */
  database?: string;
}

export function readEnvOverrides(env: NodeJS.ProcessEnv): { overrides: EnvOverrides; issues: string[] } {
  const overrides: EnvOverrides = {};
  const issues: string[] = [];
  const read = <T>(name: string, parse: (text: string) => Parsed<T>, apply: (value: T) => void): void => {
    const text = env[name];
    if (text === undefined || text.trim() === '') return; // empty means unset, as in most shells' usage
    const parsed = parse(text);
    if (parsed.ok) apply(parsed.value);
    else issues.push(`${name}: ${parsed.message}`);
  };
  read('CREDITGATE_OPENAI_BASE_URL', parseBaseUrl, (url) => (overrides.openaiBaseUrl = url));
  read('CREDITGATE_ANTHROPIC_BASE_URL', parseBaseUrl, (url) => (overrides.anthropicBaseUrl = url));
  read('CREDITGATE_PORT', parsePort, (port) => (overrides.port = port));
  read('CREDITGATE_DATABASE_URL', parseDatabaseUrl, (url) => (overrides.database = url));
  read('CREDITGATE_RATE_CARD_FILE', (text) => ({ ok: true, value: text.trim() }), (file) => (overrides.rateCardFile = file));
  return { overrides, issues };
}
