import { defineConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * For mutation runs over `src/commands` (docs/mutation/commands-transform.md): only the in-process command tests
 * of test/commands/ (each command called from test code, its output kept), so a run takes minutes, not an hour.
 * `cron.test.ts` and `base-url.test.ts` spawn the built CLI, which Stryker cannot see. (`include` is replaced, not
 * merged: mergeConfig would append to it.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/commands/**/*.test.ts'],
    exclude: ['test/commands/cron.test.ts', 'test/commands/base-url.test.ts', 'node_modules/**'],
    globalSetup: [],
  },
});
