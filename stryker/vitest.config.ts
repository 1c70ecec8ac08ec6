/**
 * The tests Stryker runs against each mutant of the money code (stryker.config.mjs): pricing and
 * ledger unit, property and multi-process tests, and the gateway's metering and overspend tests.
 * No editor tests and no CLI build (nothing here runs the bundled CLI), so a mutant's run stays short.
 * Stryker's vitest runner replaces the pool with one worker thread of its own.
 */
import path from 'node:path';
import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Cheapest first: a mutant's run stops at its first failing test, so a killed mutant costs only the
 * files before the one that kills it. The property and multi-process files take seconds; they go last.
 */
const TEST_FILES = [
  'test/money.test.ts',
  'test/pricing.test.ts',
  'test/pricing-decimal.test.ts',
  'test/pricing-estimator.test.ts',
  'test/pricing-fast-path.test.ts',
  'test/pricing-parts.test.ts',
  'test/pricing-estimator-edges.test.ts',
  'test/spend-bound.test.ts',
  // What a cut or abandoned stream is billed from: the text it streamed (dialects/deferredText.ts).
  'test/deferred-text.test.ts',
  'test/allowance.test.ts',
  'test/ledger-rules.test.ts',
  'test/ledger.test.ts',
  'test/ledger-credits.test.ts',
  'test/ledger-validation.test.ts',
  'test/ledger-audit.test.ts',
  'test/ledger-status.test.ts',
  'test/ledger-connection.test.ts',
  'test/ledger-storage.test.ts',
  'test/gateway-admission.test.ts',
  'test/gateway-metering.test.ts',
  'test/red-team/overspend.test.ts',
  'test/balance-history.test.ts',
  'test/ledger-fold.test.ts',
  // The pending-charges journal's replay (ledger.ts replayKeptSettlements) is reached only here.
  'test/ledger-locked-writes.test.ts',
  'test/ledger-time.test.ts',
  // The PostgreSQL store's in-memory transaction against the SQLite store, with no server (a property test).
  'test/ledger-snapshot-tx.test.ts',
  'test/group-commit.test.ts',
  'test/ledger-property.test.ts',
  'test/ledger-multiprocess.test.ts',
];

class CheapestFirst extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification): number => TEST_FILES.indexOf(path.relative(spec.project.config.root, spec.moduleId));
    return Promise.resolve([...files].sort((a, b) => rank(a) - rank(b)));
  }
}

export default defineConfig({
  test: {
    // test/ledger-file.test.ts is left out: it sets process.umask(), which a worker thread may not.
    include: TEST_FILES,
    sequence: { sequencer: CheapestFirst },
    setupFiles: ['stryker/vitest-setup.ts'],
    // The ledger tests that run on every store run on SQLite alone here, with no PostgreSQL server to start
    // per mutant: the one PostgreSQL module mutated, snapshotTx.ts, is tested against the SQLite store.
    env: { CREDITGATE_TEST_STORES: 'sqlite' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
