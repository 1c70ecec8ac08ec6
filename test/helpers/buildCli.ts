/**
 * Vitest global setup: bundles the CLI once into .cache/test-build so process-level tests run the
 * real `creditgate` command (as users do) without paying tsx's start-up on every invocation.
 */
import { build } from 'esbuild';
import path from 'node:path';

export const TEST_CLI = path.resolve(__dirname, '../../.cache/test-build/cli.js');

export default async function setup(): Promise<void> {
  await build({
    entryPoints: [path.resolve(__dirname, '../../proxy/cli.ts')],
    outfile: TEST_CLI,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['better-sqlite3'],
    logLevel: 'warning',
  });
}
