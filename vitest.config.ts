import { defineConfig } from 'vitest/config';
import base from './vitest.base.config.js';
import SlowFirstSequencer from './test/helpers/slow-first-sequencer.js';

/**
 * Test files that share one module graph per worker (isolate: false): each file's imports are loaded once per
 * worker instead of once per file (measured together on 2 cores: 91 -> 68 CPU s, 47 -> 35 s wall). Only files that
 * leave no process-wide state behind belong here: none sets process.env (limits.test.ts only inside withEnv, which
 * puts it back), changes the working directory, mocks or spies on a module or global, uses fake timers, makes a
 * Secret or registers one with redact() (that registry is process-wide), runs the CLI's main in-process, or uses
 * PostgreSQL (its cluster is the isolated project's global setup); servers they start are closed in their hooks,
 * CLIs they spawn are processes of their own. Checked by running them shuffled by file in one worker
 * (docs/testing.md). A file that starts doing one of those things moves to the isolated project.
 */
const sharedModuleFiles = [
  'test/commands/options.test.ts',
  'test/core/concurrency.test.ts',
  'test/core/duckdb.test.ts',
  'test/core/errors.test.ts',
  'test/core/names.test.ts',
  'test/core/plural.test.ts',
  'test/core/row-runs.test.ts',
  'test/delta/delta-shards.test.ts',
  'test/delta/golden-replay.test.ts',
  'test/delta/local-log-store.test.ts',
  'test/delta/write-table.test.ts',
  'test/e2e/hostile-workbooks.test.ts',
  'test/e2e/https-redirect.test.ts',
  'test/e2e/interrupt.test.ts',
  'test/e2e/ons-monthly-shared.test.ts',
  'test/e2e/ons-weekly-shared.test.ts',
  'test/e2e/package-install.test.ts',
  'test/e2e/serve-delta.test.ts',
  'test/e2e/serve-page.test.ts',
  'test/e2e/serve.test.ts',
  'test/e2e/transform-faults.test.ts',
  'test/e2e/try-offline.test.ts',
  'test/load/gcs-retries.test.ts',
  'test/load/s3-etag.test.ts',
  'test/load/upload-error.test.ts',
  'test/run/config.test.ts',
  'test/run/cron-schedule.test.ts',
  'test/run/data-dir.test.ts',
  'test/run/partition.test.ts',
  'test/serve/pinned-files.test.ts',
  'test/serve/rows-api.test.ts',
  'test/sources/ons.test.ts',
  'test/sources/random-person.test.ts',
  'test/transform/datasets/json-datasets.test.ts',
  'test/transform/json/calendar-time.test.ts',
  'test/transform/json/json-conversions.test.ts',
  'test/transform/json/json-table.test.ts',
  'test/transform/json/local-time.test.ts',
  'test/transform/json/parse-raw-json.test.ts',
  'test/transform/layout/dataset-checks.test.ts',
  'test/transform/layout/dataset-file.test.ts',
  'test/transform/layout/labels.test.ts',
  'test/transform/layout/period-parsers.test.ts',
  'test/transform/layout/read-periods-across.test.ts',
  'test/transform/layout/read-periods-down.test.ts',
  'test/transform/layout/read-workbook-table.test.ts',
  'test/transform/layout/row-rules-hooks.test.ts',
  'test/transform/layout/row-rules.test.ts',
  'test/transform/layout/workbook-table-releases.test.ts',
  'test/transform/layout/workbook-table.test.ts',
  'test/transform/parquet/inspect-parquet.test.ts',
  'test/transform/parquet/page-compression.test.ts',
  'test/transform/parquet/parquet-encoding.test.ts',
  'test/transform/parquet/parquet-file.test.ts',
  'test/transform/parquet/parquet-writer-edges.test.ts',
  'test/transform/parquet/parquet-writer-parts.test.ts',
  'test/transform/parquet/parquet-writer-runs.test.ts',
  'test/transform/parquet/parquet-writer-small.test.ts',
  'test/transform/parquet/partition-parquet.test.ts',
  'test/transform/parquet/write-parquet.test.ts',
  'test/transform/weekly-deaths.test.ts',
  'test/transform/workbook/column-name.test.ts',
  'test/transform/workbook/excel-dates.test.ts',
  'test/transform/workbook/fuzz.test.ts',
  'test/transform/workbook/limits.test.ts',
  'test/transform/workbook/xls-reader.test.ts',
  'test/transform/workbook/xml-scanner.test.ts',
  'test/transform/workbook/zip-file.test.ts',
];

const { include, testTimeout, hookTimeout, pool, maxWorkers, reporters, globalSetup } = base.test!;

// pool, workers and reporters as in vitest.base.config.ts (measured there); each project keeps its timeouts.
export default defineConfig({
  test: {
    pool,
    maxWorkers,
    reporters,
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        test: { name: 'shared-modules', include: sharedModuleFiles, isolate: false, testTimeout, hookTimeout },
      },
      {
        // The PostgreSQL cluster (global setup) is only needed here.
        test: { name: 'isolated', include, exclude: sharedModuleFiles, testTimeout, hookTimeout, globalSetup },
      },
    ],
  },
});
