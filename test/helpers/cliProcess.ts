/** Runs the bundled `creditgate` CLI as a separate process, as a user or script would. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_CLI } from './buildCli';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Another user to run the CLI as (a test as root cannot make a file read-only for itself). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** The runtime packages the bundled CLI loads from node_modules (better-sqlite3 and what it requires). */
const CLI_RUNTIME_PACKAGES = ['better-sqlite3', 'bindings', 'file-uri-to-path'];
let cliForOthers: string | null = null;

/**
 * The CLI as another user can run it. The checkout may be private to its owner (a clone into
 * `mktemp -d` is 0700), so the bundle and the packages it loads are copied once into a directory
 * anyone may read: the other user then runs the same code without reaching into the checkout.
 */
function cliPathFor(as: RunAs | null): string {
  if (as === null) return TEST_CLI;
  if (cliForOthers) return cliForOthers;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-cli-shared-'));
  process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  fs.cpSync(path.dirname(TEST_CLI), root, { recursive: true });
  const modules = path.resolve(path.dirname(TEST_CLI), '../../node_modules');
  for (const name of CLI_RUNTIME_PACKAGES) {
    // The native build and the JavaScript, not the sources it was compiled from.
    fs.cpSync(path.join(modules, name), path.join(root, 'node_modules', name), {
      recursive: true,
      filter: (source) => !/[\\/](deps|src)$/.test(source),
    });
  }
  for (const entry of [root, ...fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).map((name) => path.join(root, name))]) {
    fs.chmodSync(entry, fs.statSync(entry).isDirectory() ? 0o755 : 0o644);
  }
  return (cliForOthers = path.join(root, path.basename(TEST_CLI)));
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}, as: RunAs | null = null): CliResult {
  const result = spawnSync(process.execPath, [cliPathFor(as), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000, ...as });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
}

/** Starts `creditgate serve --port 0` and resolves once it printed `listening on …`. */
export function serve(args: string[], env: NodeJS.ProcessEnv = {}, as: RunAs | null = null): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliPathFor(as), 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...as });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (https?:\/\/\S+:\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
}

/** Kills every serve process in `processes` (and empties it), waiting until each has exited: a test's teardown. */
export async function killServeProcesses(processes: ServeProcess[]): Promise<void> {
  for (const server of processes.splice(0)) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

/**
 * The environment of CLI commands and `serve` instances on a team ledger in the tests: the PostgreSQL
 * database, the fake upstream, a fresh data directory, and the upstream key as an operator would give it.
 */
export function teamEnv(database: string, upstreamUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    CREDITGATE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'creditgate-team-')),
    CREDITGATE_CONFIG: '',
    CREDITGATE_DATABASE_URL: database,
    CREDITGATE_OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    CREDITGATE_ANTHROPIC_BASE_URL: upstreamUrl,
    OPENAI_API_KEY: 'sk-upstream-from-env',
    ...extra,
  };
}
