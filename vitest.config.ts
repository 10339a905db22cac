import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    // One process per test file: a native crash fails that file, not the run.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CI (.ci/run) reads the JSON report to print its closing "N passed, N failed" line
    // (one report per Node.js version: VITEST_JSON names where).
    reporters: process.env.CI ? ['default', ['json', { outputFile: process.env.VITEST_JSON ?? '.ci-results/vitest.json' }]] : ['default'],
  },
});
