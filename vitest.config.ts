import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // After the whole suite: no patient identifier or name in any gateway's log (test/support/log-check.ts).
    globalSetup: ['test/support/log-check.ts'],
  },
});
