import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * For mutation runs over `src/run` (docs/mutation/run-commands.md): its in-process tests only. The whole-pipeline
 * tests through the command layer (`test/run/pipeline-in-process.test.ts`, ONS workbooks) are left out: each
 * mutant they reach costs seconds, and `test/run/pipeline-fast.test.ts` holds the same behaviours on a
 * three-person random-person pipeline in tens of milliseconds a run. Tests that spawn the built CLI are left
 * out as in `vitest.mutation.config.ts` (Stryker cannot see them).
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/run/**/*.test.ts', 'test/commands/runs.test.ts'],
      exclude: [
        'test/run/pipeline-in-process.test.ts',
        'test/run/pipeline.test.ts',
        'test/run/partition.test.ts',
        'test/run/config-limits.test.ts',
        'test/run/fail-before-spending.test.ts',
        'test/run/odd-state.test.ts',
        'node_modules/**',
      ],
    },
  }),
);
