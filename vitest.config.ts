import { defineConfig } from 'vitest/config';

const report = process.env.RAYTS_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests that check that dropped refs free the store call global.gc().
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    // Integration tests start real clusters; two at once is what 2 cores hold.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
