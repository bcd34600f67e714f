import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start local servers and spawn the CLI; two cores, so keep forks modest.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
