/** Where the account lives and which config file to read: command-line flag > environment > default. */
import os from 'node:os';
import path from 'node:path';

const nonEmpty = (value: string | undefined): string | undefined => (value?.trim() ? value : undefined);

function expandHome(dir: string, homeDir: string): string {
  // Quoted paths ("~/x" in a .env file or a launch config) reach us unexpanded by any shell.
  if (dir === '~') return homeDir;
  if (dir.startsWith('~/') || dir.startsWith(`~${path.sep}`)) return path.join(homeDir, dir.slice(2));
  return dir;
}

/** `--data-dir` > `CREDITGATE_DATA_DIR` > `~/.creditgate`, as an absolute path. */
export function resolveDataDir(options: { dataDir?: string; env?: NodeJS.ProcessEnv; homeDir?: string }): string {
  const homeDir = options.homeDir ?? os.homedir();
  const chosen = nonEmpty(options.dataDir) ?? nonEmpty(options.env?.CREDITGATE_DATA_DIR) ?? path.join(homeDir, '.creditgate');
  return path.resolve(expandHome(chosen, homeDir));
}

/** `--config` > `CREDITGATE_CONFIG`, as an absolute path; null means no config file (all defaults). */
export function resolveConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = {}, homeDir = os.homedir()): string | null {
  const chosen = nonEmpty(flag) ?? nonEmpty(env.CREDITGATE_CONFIG);
  return chosen === undefined ? null : path.resolve(expandHome(chosen, homeDir));
}
