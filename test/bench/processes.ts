/**
 * The benchmark's child processes: started, waited for (each prints a line naming its port or URL
 * on stdout when it is listening), watched (a target that dies mid-run fails the benchmark), and
 * always stopped again, together with the temporary directories, whatever way the benchmark ends.
 */
import { isProcessAlive } from '../../proxy/processAlive';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** What the child printed on stderr (last 64 KiB), for error messages. */
  stderr(): string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const tempDirs = new Set<string>();
/** Synchronous stops of what is not a child of ours (a PostgreSQL server runs under its postmaster), run once. */
const closers: (() => void)[] = [];
/** Children asked to stop: their exit is expected. */
const stopRequested = new WeakSet<Child>();
let unexpectedExit: ((child: Child, code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
let stopping = false;

/** Called when a child ends while the benchmark still needs it. */
export function onUnexpectedExit(handler: (child: Child, code: number | null, signal: NodeJS.Signals | null) => void): void {
  unexpectedExit = handler;
}

/** Registers something to stop after the children (and before the directories go), whatever way the benchmark ends. */
export function registerCloser(close: () => void): void {
  closers.push(close);
}

function runClosers(): void {
  for (const close of closers.splice(0).reverse()) {
    try {
      close();
    } catch (error) {
      process.stderr.write(`[bench] cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

/** Registers a temporary directory for removal, marking it with this process's pid. */
export function registerTempDir(dir: string): void {
  tempDirs.add(dir);
  writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
}

const OWNER_FILE = 'bench-owner.pid';

/**
 * Removes directories `prefix*` under `parent` left by a benchmark that was killed outright
 * (SIGKILL leaves no chance to clean up; its servers stop themselves, see WATCHDOG_SOURCE).
 */
export function removeStaleTempDirs(parent: string, prefix: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(parent, name);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours, or not marked yet
    }
    if (Number.isInteger(owner) && owner > 0 && !isProcessAlive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}


/** The line every server of the benchmark prints once it is listening: its URL. */
export const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * Spawns `node ...args` and resolves once a stdout line matches `ready`, with the match; rejects if
 * the child exits or stays silent for `timeoutMs`.
 */
export function startChild(name: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<{ child: Child; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-65_536);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { name, pid: proc.pid ?? -1, process: proc, stderr: () => stderr, exited };
  children.add(child);
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
    proc.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not be spawned: ${error.message}`));
    });
    proc.stdout.on('data', (chunk: Buffer) => {
      if (started) return; // keep draining so the child never blocks on a full pipe
      stdout += chunk.toString();
      const match = ready.exec(stdout);
      if (match) {
        started = true;
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    proc.once('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready; stderr:\n${stderr}`));
      else if (!stopping && !stopRequested.has(child)) unexpectedExit?.(child, code, signal);
    });
  });
}

/** Stops one child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: Child, graceMs = 5_000): Promise<void> {
  stopRequested.add(child);
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Stops every child still running and removes the temporary directories. */
export async function cleanUp(): Promise<void> {
  stopping = true;
  await Promise.all([...children].map((child) => stopChild(child)));
  runClosers();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Synchronous last resort (process 'exit'): kill what is left, remove the directories. */
export function cleanUpNow(): void {
  stopping = true;
  for (const child of children) child.process.kill('SIGKILL');
  runClosers();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * Source of a `--require` preload (and the same logic runs in the bench's own child roles): the
 * child terminates itself once its parent is gone, so a benchmark killed with SIGKILL leaves no
 * servers behind. It polls `process.ppid`, which changes when the child is re-parented.
 */
export const WATCHDOG_SOURCE = `'use strict';
const parent = process.ppid;
setInterval(() => {
  if (process.ppid === parent) return;
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 5000).unref();
}, 500).unref();
`;

export function startWatchdog(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid === parent) return;
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 5_000).unref();
  }, 500).unref();
}
