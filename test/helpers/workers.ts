/**
 * Worker processes that open a ledger, print "ready", start on a line from stdin and print their
 * result as JSON on their last line: the multi-process tests and the ledger benchmark run them.
 */
import type { ChildProcess } from 'node:child_process';

/** Resolves once the child printed `line` on stdout; rejects if it exits first. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code} before "${line}"`)));
  });
}

/** The JSON the child printed on its last line, once it exited with 0 (else its stderr, when piped). */
export function lastJsonLine<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
    });
  });
}

/**
 * Waits until every worker is ready, releases them together, and returns what each printed last.
 * `onRelease` runs at the moment of release (a benchmark starts its clock there, not at spawn).
 */
export async function releaseTogether<T>(workers: ChildProcess[], onRelease: () => void = () => undefined): Promise<T[]> {
  const results = workers.map((child) => lastJsonLine<T>(child));
  await Promise.all(workers.map((child) => waitForLine(child, 'ready')));
  onRelease();
  for (const child of workers) child.stdin!.write('go\n');
  return Promise.all(results);
}
