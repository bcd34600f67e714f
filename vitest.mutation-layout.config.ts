import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * For mutation runs over `src/transform/layout` (docs/mutation/transform-layout.md): only the in-process layout
 * tests on small grids, each file a second or two. The source and dataset tests that also read workbooks through
 * layout (`test/sources/ons.test.ts`, `test/transform/weekly-deaths.test.ts`, the workbook fuzz test) are left
 * out: with them every layout mutant cost seconds and the folder an estimated 70 hours on this shared machine.
 * So is `workbook-table.test.ts` (ONS raw layers through the source, parquet written and read back):
 * `workbook-table-releases.test.ts` holds the same release rules on small grids.
 * (`include` is replaced, not merged: mergeConfig would append to it.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/transform/layout/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/transform/layout/workbook-table.test.ts'],
    // None of these needs the PostgreSQL cluster.
    globalSetup: [],
    // Stryker runs the covering tests once per mutant; without isolation a test file's imports (the workbook
    // writer and reader) are not loaded again for every run. The tests keep no module state between files.
    isolate: false,
  },
});
