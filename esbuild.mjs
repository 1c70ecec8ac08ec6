// Bundles the entry points into dist/: the VS Code extension, the gateway server (spawned by the
// extension), the CLI, and the benchmark, plus the Usage panel's webview script into dist/webview/.
// better-sqlite3 stays external: it is a native module and ships beside the bundle; vscode is provided
// by the editor. pg-native is node-postgres' optional native binding, which we never use (pg loads it
// only when asked for `pg.native`).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

// The shipped rate card is generated from the price catalogue (a devDependency) by `npm run rate-card`
// and committed, so it can be read in review and copied as a template; the build only checks that it
// is still what the installed catalogue makes. Nothing is fetched: the catalogue is in node_modules.
const cardCheck = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/rate-card/main.ts', '--check'], { stdio: 'inherit' });
if (cardCheck.status !== 0) process.exit(cardCheck.status ?? 1);

// esbuild never cleans its output folder; stale files would end up in the .vsix.
rmSync('dist', { recursive: true, force: true });

const entryPoints = {
  cli: 'proxy/cli.ts',
  gateway: 'proxy/main.ts',
  extension: 'extension/extension.ts',
  bench: 'test/bench/gateway-bench.ts',
  // The tokenizer's encoding, loaded from beside the bundles only when a count is needed (tokens.ts).
  o200k: 'proxy/pricing/o200k.ts',
};

await build({
  entryPoints: Object.fromEntries(Object.entries(entryPoints).filter(([, file]) => existsSync(file))),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: process.argv.includes('--minify'),
  // Without comments the bundle is ASCII, which V8 keeps as a one-byte string: a single comment with a
  // character past Latin-1 (a dependency's "—") made the 1.8 MB source a 3.6 MB two-byte string in every
  // gateway's heap. Names stay as written, and the source maps lead back to the sources.
  minifyWhitespace: true,
  // Dependencies' license comments go to a file beside each bundle (dist/*.LEGAL.txt) instead.
  legalComments: 'linked',
  external: ['better-sqlite3', 'vscode', 'pg-native'],
  define: { CREDITGATE_TOKENIZER_BUNDLE: JSON.stringify('o200k.js') },
  logLevel: 'warning',
});

// The Usage panel's script runs in the webview (a browser), not in Node: a separate IIFE bundle with
// Chart.js inside, loaded by the panel from dist/webview/ under its CSP.
await build({
  entryPoints: { usagePanel: 'extension/webview/usagePanel.ts' },
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  sourcemap: true,
  minify: process.argv.includes('--minify'),
  logLevel: 'warning',
});
