import { defineConfig } from 'vitest/config';
import base from './vitest.base.config.js';

/**
 * For mutation runs over `src/transform/parquet` (docs/mutation/transform-parquet.md): the writer's small-file tests
 * (parquet-file.test.ts and write-parquet.test.ts write 80,000 to 300,000 rows, minutes a mutant here), the
 * partition tests and the one in-process reader of a parquet file's description (inspect-parquet.ts).
 * (`include` is replaced, not merged: mergeConfig would append to it.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/transform/parquet/parquet-encoding.test.ts',
      'test/transform/parquet/parquet-writer-small.test.ts',
      'test/transform/parquet/parquet-writer-edges.test.ts',
      'test/transform/parquet/parquet-writer-parts.test.ts',
      'test/transform/parquet/partition-parquet.test.ts',
      'test/transform/parquet/inspect-parquet.test.ts',
      'test/commands/datasets-inspect.test.ts',
    ],
    // None of these needs the PostgreSQL cluster.
    globalSetup: [],
  },
});
