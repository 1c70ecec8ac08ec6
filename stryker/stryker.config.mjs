// Mutation testing of the money code: `npm run test:mutation` (README "Mutation testing").
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'proxy/pricing/cost.ts',
    'proxy/pricing/decimal.ts',
    'proxy/pricing/spendBound.ts',
    'proxy/pricing/estimator.ts',
    'proxy/pricing/longContext.ts',
    'proxy/ledger/allowance.ts',
    'proxy/ledger/credits.ts',
    'proxy/ledger/fold.ts',
    'proxy/ledger/autoReload.ts',
    'proxy/ledger/ledger.ts',
    'proxy/ledger/store.ts',
  ],
  testRunner: 'vitest',
  vitest: { configFile: 'stryker/vitest.config.ts' },
  // Each mutant runs only the tests that reached it in the dry run, not the whole selection.
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: one sandbox at a time.
  concurrency: 1,
  // Kept out of git (see README): a results cache that any run can rebuild, and that every branch
  // touching money code would otherwise rewrite and conflict on.
  incremental: true,
  incrementalFile: '.cache/stryker-incremental.json',
  tempDirName: '.cache/stryker-tmp',
  ignorePatterns: ['dist', '.cache', 'test-artifacts', 'test/vscode', 'test/bench', '*.vsix'],
  reporters: ['progress', 'clear-text', 'html', 'json'],
  htmlReporter: { fileName: 'test-artifacts/mutation/index.html' },
  jsonReporter: { fileName: 'test-artifacts/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: 90 },
};
