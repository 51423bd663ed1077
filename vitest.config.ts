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
    // The packages' built code (@samsara/ray and the libraries) loads as Node loads it, not rewritten
    // by vite: one copy of the core, and remote functions whose source and imports are as shipped
    // (docs/core.md "Code on other nodes").
    server: { deps: { external: [/\/packages\/[^/]+\/dist\//, /\/test\/fixtures\/[^/]+\.js$/] } },
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
