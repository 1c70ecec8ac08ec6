/**
 * code-server 4.100.3 (VS Code 1.100.3 with a real Node extension host), installed once into a
 * cache folder outside the project's node_modules and started isolated on loopback. The install
 * workarounds are explained in test/vscode/README.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/freePort';

export const CODE_SERVER_VERSION = '4.100.3';
const RIPGREP_VERSION = '1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';
/** The Debian packages code-server's install and the browser need (see README.md here). */
export const DEBIAN_PACKAGES = ['chromium', 'ripgrep', 'libkrb5-dev', 'libx11-dev', 'libxkbfile-dev', 'libsecret-1-dev', 'build-essential', 'pkg-config', 'python3'];
export const APT_COMMAND = `apt-get update && apt-get install -y ${DEBIAN_PACKAGES.join(' ')}`;

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The listed Debian packages that are not installed (by dpkg's record; by command without dpkg). */
function missingPackages(): string[] {
  if (!hasCommand('dpkg-query')) return [['chromium', 'chromium'], ['rg', 'ripgrep']].filter(([command]) => !hasCommand(command!)).map(([, pkg]) => pkg!);
  return DEBIAN_PACKAGES.filter((pkg) => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('install ok installed');
    } catch {
      return true;
    }
  });
}

/**
 * Makes sure the Debian packages are there: as root (CI, a fresh container) it installs the missing
 * ones itself; otherwise it fails naming the exact apt-get command to run.
 */
export function ensureSystemPackages(log: (line: string) => void): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !hasCommand('apt-get')) {
    throw new Error(`missing Debian packages: ${missing.join(', ')}. As root run:\n  ${APT_COMMAND}`);
  }
  log(`installing missing Debian packages (${missing.join(', ')}): ${APT_COMMAND}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', ...DEBIAN_PACKAGES], { stdio: 'inherit', env });
}

/**
 * @vscode/ripgrep downloads `rg` from a host that is unreachable here; it first looks in its cache
 * in $TMPDIR, so put Debian's rg there as the archive it expects.
 */
function seedRipgrepCache(): void {
  const cacheDir = path.join(os.tmpdir(), `vscode-ripgrep-cache-${RIPGREP_VERSION}`);
  const archive = path.join(cacheDir, RIPGREP_ASSET);
  if (fs.existsSync(archive)) return;
  fs.mkdirSync(cacheDir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'rg-'));
  fs.copyFileSync(execFileSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).trim(), path.join(staging, 'rg'));
  execFileSync('tar', ['-czf', archive, '-C', staging, 'rg']);
  fs.rmSync(staging, { recursive: true, force: true });
}

/** Installs code-server into `cacheDir` unless it is there already; returns its executable. */
export function installCodeServer(cacheDir: string, log: (line: string) => void): string {
  const bin = path.join(cacheDir, 'node_modules', '.bin', 'code-server');
  ensureSystemPackages(log);
  if (fs.existsSync(bin)) return bin;
  seedRipgrepCache();
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(path.join(cacheDir, 'package.json'), JSON.stringify({ name: 'code-server-cache', private: true }));
  log(`installing code-server ${CODE_SERVER_VERSION} into ${cacheDir} (about 2 minutes the first time)`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: cacheDir,
    stdio: 'inherit',
    // Its postinstall refuses to run as root without unsafe_perm; a nested `npx node-gyp` would ask.
    env: { ...process.env, npm_config_unsafe_perm: 'true', npm_config_yes: 'true' },
  });
  return bin;
}


export interface Workbench {
  url: string;
  root: string;
  workspace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface WorkbenchOptions {
  codeServer: string;
  root: string;
  /** The .vsix to install first; none when the extension is loaded from source (extensionDevelopmentPath). */
  vsix?: string;
  /** VS Code user settings. */
  settings: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** The user settings file's text (to check what was never written to it). */
export function userSettingsText(root: string): string {
  return fs.readFileSync(path.join(root, 'udd', 'User', 'settings.json'), 'utf8');
}

/** Installs the .vsix into a fresh profile and starts code-server on a free loopback port. */
export async function startWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  const { codeServer, root, vsix, settings, env, log } = options;
  const dirs = { xc: path.join(root, 'xc'), xd: path.join(root, 'xd'), udd: path.join(root, 'udd'), exts: path.join(root, 'exts'), workspace: path.join(root, 'workspace') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(path.join(dirs.udd, 'User'), { recursive: true });
  fs.writeFileSync(path.join(root, 'config.yaml'), 'auth: none\ncert: false\n');
  fs.writeFileSync(
    path.join(dirs.udd, 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'remote.autoForwardPorts': false, ...settings }, null, 2),
  );
  const isolated = { ...env, XDG_CONFIG_HOME: dirs.xc, XDG_DATA_HOME: dirs.xd };
  if (vsix) {
    execFileSync(codeServer, ['--user-data-dir', dirs.udd, '--extensions-dir', dirs.exts, '--install-extension', vsix], { env: isolated, stdio: 'pipe' });
    log(`installed ${path.basename(vsix)}`);
  }

  const port = await freePort();
  const child = spawn(
    codeServer,
    [
      '--config', path.join(root, 'config.yaml'),
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--user-data-dir', dirs.udd,
      '--extensions-dir', dirs.exts,
      dirs.workspace,
    ],
    { env: isolated, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const logFile = fs.createWriteStream(path.join(root, 'code-server.log'));
  child.stdout?.pipe(logFile);
  child.stderr?.pipe(logFile);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(`${url}/healthz`, child, 60_000);
  return {
    url,
    root,
    workspace: dirs.workspace,
    process: child,
    async stop() {
      const pgid = child.pid;
      if (pgid === undefined) return;
      // code-server runs its extension hosts (and so the gateways) in its process group: stop the
      // whole group, and wait until no member is left (SIGKILL after 5 s).
      const groupAlive = (): boolean => {
        try {
          process.kill(-pgid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const signal = (name: NodeJS.Signals): void => {
        try {
          process.kill(-pgid, name);
        } catch {
          // the group is gone
        }
      };
      signal('SIGTERM');
      const deadline = Date.now() + 5_000;
      while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      if (groupAlive()) {
        log('code-server did not stop within 5 s of SIGTERM; SIGKILL');
        signal('SIGKILL');
        // (bounded: a container whose init does not reap would leave zombies in the group)
        const killDeadline = Date.now() + 2_000;
        while (groupAlive() && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      logFile.end();
    },
  };
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`code-server did not answer ${url} within ${timeoutMs} ms`);
}
