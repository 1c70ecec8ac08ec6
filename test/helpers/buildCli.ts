/**
 * Vitest global setup: bundles the CLI once into .cache/test-build so process-level tests run the
 * real `creditgate` command (as users do) without paying tsx's start-up on every invocation.
 */
import { build } from 'esbuild';
import path from 'node:path';

export const TEST_CLI = path.resolve(__dirname, '../../.cache/test-build/cli.js');

export default async function setup(): Promise<void> {
  // As esbuild.mjs builds it: the tokenizer's encoding is a bundle of its own beside the CLI.
  await build({
    entryPoints: { cli: path.resolve(__dirname, '../../proxy/cli.ts'), o200k: path.resolve(__dirname, '../../proxy/pricing/o200k.ts') },
    outdir: path.dirname(TEST_CLI),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['better-sqlite3', 'pg-native'],
    define: { CREDITGATE_TOKENIZER_BUNDLE: JSON.stringify('o200k.js') },
    logLevel: 'warning',
  });
}
