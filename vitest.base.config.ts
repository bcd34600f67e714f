import { defineConfig } from 'vitest/config';

/**
 * The whole suite as one isolated project: what the mutation configs (vitest.mutation*.config.ts) narrow.
 * `npm test` runs vitest.config.ts, which splits these files into two projects with the same settings.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start local servers and spawn the CLI; two cores, so keep forks modest.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One PostgreSQL cluster for the run; each test file makes its own database in it.
    globalSetup: ['./test/helpers/postgres-global-setup.ts'],
    // vitest's default on two cores is one worker; most files wait on child processes and sockets, not the CPU.
    // Measured on this 2-core machine, quiet: 2 workers 307 s (1.7 cores busy), 3 workers about 255 s.
    maxWorkers: 3,
    // The default summary, then why whole suites were skipped (e.g. no GCS emulator installed).
    reporters: ['default', './test/helpers/skip-reasons-reporter.ts'],
  },
});
