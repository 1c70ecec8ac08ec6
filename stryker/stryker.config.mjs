// Mutation testing of the money code: `npm run test:mutation` (README "Mutation testing").
// `STRYKER_MODULE=proxy/pricing/decimal.ts npm run test:mutation` mutates one module (or a comma-separated
// few, or line ranges such as proxy/pricing/decimal.ts:99-99, named by STRYKER_NAME): a shorter run with its
// own incremental file and report.
const ALL = [
  'proxy/pricing/cost.ts',
  'proxy/pricing/decimal.ts',
  'proxy/pricing/spendBound.ts',
  // The output limit forwarded to the upstream and the endings of a stream stopped at the bound.
  'proxy/dialects/spendLimit.ts',
  // The text a cut or abandoned stream is billed from.
  'proxy/dialects/deferredText.ts',
  'proxy/pricing/estimator.ts',
  'proxy/pricing/longContext.ts',
  'proxy/ledger/allowance.ts',
  'proxy/ledger/credits.ts',
  'proxy/ledger/fold.ts',
  'proxy/ledger/autoReload.ts',
  'proxy/ledger/rules.ts',
  'proxy/ledger/ledger.ts',
  'proxy/ledger/store.ts',
  // A charge is never dropped: kept in the pending-charges journal while the database is locked.
  'proxy/ledger/settlements.ts',
  'proxy/ledger/chargeJournal.ts',
  // The PostgreSQL store's in-memory transaction: measured by test/ledger-snapshot-tx.test.ts against the
  // SQLite store, with no server (the selection runs none).
  'proxy/ledger/postgres/snapshotTx.ts',
];
const only = process.env.STRYKER_MODULE;
// proxy/ledger/store.ts → ledger-store (several: ledger-credits+ledger-fold): each module keeps its own
// cache and report, so one module's run neither drops nor overwrites another's.
const moduleNames = only
  ?.split(',')
  .map((file) => file.replace(/^proxy\//, '').replace(/\.ts$/, '').replaceAll('/', '-'))
  .join('+');
const slug = process.env.STRYKER_NAME ?? moduleNames;
const out = slug ? `test-artifacts/mutation/${slug}` : 'test-artifacts/mutation';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: only ? only.split(',') : ALL,
  testRunner: 'vitest',
  vitest: { configFile: 'stryker/vitest.config.ts' },
  // Each mutant runs only the tests that reached it in the dry run, not the whole selection
  // (stryker/vitest-setup.ts makes this work on Vitest 4.1).
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: one sandbox at a time.
  concurrency: 1,
  // Kept out of git (see README): a results cache that any run can rebuild, and that every branch
  // touching money code would otherwise rewrite and conflict on.
  incremental: true,
  incrementalFile: slug ? `.cache/stryker-incremental-${slug}.json` : '.cache/stryker-incremental.json',
  tempDirName: '.cache/stryker-tmp',
  ignorePatterns: ['dist', '.cache', 'test-artifacts', 'test/vscode', 'test/bench', '*.vsix'],
  reporters: ['progress', 'clear-text', 'html', 'json'],
  htmlReporter: { fileName: `${out}/index.html` },
  jsonReporter: { fileName: `${out}/mutation.json` },
  thresholds: { high: 95, low: 90, break: 90 },
};
