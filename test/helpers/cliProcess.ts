/** Runs the bundled `creditgate` CLI as a separate process, as a user or script would. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
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

export function cli(args: string[], env: NodeJS.ProcessEnv = {}, as: RunAs | null = null): CliResult {
  const result = spawnSync(process.execPath, [TEST_CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000, ...as });
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
  const child = spawn(process.execPath, [TEST_CLI, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...as });
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
