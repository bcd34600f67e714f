import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * The suite as StrykerJS runs it (`npm run test:mutation`): the mutant is switched on inside the test process, so
 * tests that spawn the built CLI (dist/) cannot see it and would only slow every run down. They are left out here;
 * what they alone reach shows as "no coverage" in the report (see docs/testing.md).
 */
const CLI_TESTS = [
  'test/cli.test.ts',
  'test/e2e/**',
  'test/load/load-contract.test.ts',
  'test/load/load-command.test.ts',
  // src/run and src/commands in-process: test/run/pipeline-in-process.test.ts, test/commands/cron-shard.test.ts.
  'test/run/pipeline.test.ts',
  'test/run/partition.test.ts',
];

/** Stryker's vitest runner forces worker threads, and DuckDB's native addon (the parquet writer) ends the thread. */
const DUCKDB_TESTS = ['test/commands/datasets-inspect.test.ts', 'test/transform/layout/workbook-table.test.ts', 'test/transform/parquet/write-parquet.test.ts'];

export default mergeConfig(base, defineConfig({ test: { exclude: [...CLI_TESTS, ...DUCKDB_TESTS, 'node_modules/**'] } }));
