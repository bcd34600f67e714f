import { defineConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * For mutation runs over `src/transform/parquet`, `json`, `layout` and `datasets` (docs/mutation/commands-transform.md):
 * only the in-process tests that reach those folders, so a run over one folder takes minutes on this shared 2-core
 * machine instead of the whole suite's hour. (`include` is replaced, not merged: mergeConfig would append to it.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/transform/json/**/*.test.ts',
      'test/transform/layout/**/*.test.ts',
      'test/transform/parquet/**/*.test.ts',
      'test/transform/datasets/**/*.test.ts',
      'test/transform/weekly-deaths.test.ts',
      'test/sources/climatempo.test.ts',
      'test/sources/random-person.test.ts',
      'test/sources/supermetrics.test.ts',
      'test/sources/ons.test.ts',
      // The only in-process reader of a parquet file's description (inspect-parquet.ts).
      'test/commands/datasets-inspect.test.ts',
    ],
    // None of these needs the PostgreSQL cluster.
    globalSetup: [],
  },
});
