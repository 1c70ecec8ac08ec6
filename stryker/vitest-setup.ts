/**
 * Hands Stryker its per-test coverage (dry run) and hit count (mutant runs) on Vitest 4.1, whose
 * afterAll hooks get the suite as their second argument. @stryker-mutator/vitest-runner 9.5.1 reads
 * it from the first and so reports neither (stryker-mutator/stryker-js#5928, fixed in 9.6.1): every
 * mutant would then run the whole selection, infinite loops would wait out the timeout, and incremental
 * mode would never re-run a survivor once a test covers it. Remove with a runner that has the fix.
 */
import { afterAll, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    globalNamespace: string;
    mode: 'mutant' | 'dry-run';
  }
  export interface TaskMeta {
    mutantCoverage?: unknown;
    hitCount?: number;
  }
}

const ns = (globalThis as unknown as Record<string, { mutantCoverage?: unknown; hitCount?: number } | undefined>)[inject('globalNamespace')];

// Vitest parses a hook's first parameter and insists on an object pattern, even an empty one.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  if (inject('mode') === 'mutant') suite.meta.hitCount = ns?.hitCount;
  else suite.meta.mutantCoverage = ns?.mutantCoverage;
});
